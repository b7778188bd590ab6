//go:build !linux

package cpuref

import "unsafe"

// adviseHugePages does nothing where transparent huge pages are not Linux's.
func adviseHugePages(unsafe.Pointer, int) {}
