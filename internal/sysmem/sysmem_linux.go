package sysmem

import (
	"os"
	"syscall"
)

// physical is the machine's RAM in bytes, 0 if unknown.
func physical() uint64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// l2Cache is CPU 0's level-2 cache as sysfs describes it.
func l2Cache() int { return l2CacheIn(os.DirFS("/sys/devices/system/cpu/cpu0/cache")) }
