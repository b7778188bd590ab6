//go:build unix

package bench

import (
	"syscall"
	"time"
)

// processCPUTime is the user and system time of every thread of this process
// (the cpu backend's workers and an OpenCL CPU driver's alike), from getrusage.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
