//go:build !linux

package cpuref

// physicalMemory is unknown here: only the int range limits tensor sizes.
func physicalMemory() uint64 { return 0 }
