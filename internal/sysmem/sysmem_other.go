//go:build !linux

package sysmem

// physical is unknown here: only the int range limits sizes.
func physical() uint64 { return 0 }

// l2Cache is unknown here.
func l2Cache() int { return 0 }
