// Package sysmem tells how much memory the machine has, so that a size can be
// refused before Go is asked for it: Go cannot recover from an allocation the
// system refuses, it dies with a stack trace.
package sysmem

import (
	"fmt"
	"math"
)

// Physical is the machine's RAM in bytes, 0 where it is unknown.
func Physical() uint64 { return physical() }

// MaxFloat32s is how many float32s the machine's RAM holds (where unknown, as
// many as an int counts in bytes).
func MaxFloat32s() int {
	if b := Physical(); b > 0 && b/4 < math.MaxInt {
		return int(b / 4)
	}
	return math.MaxInt / 4
}

// Float32s is the total element count of the shapes, computed without
// overflow: ok is false where it exceeds limit (or a dimension is negative).
func Float32s(limit int, shapes ...[]int) (n int, ok bool) {
	for _, s := range shapes {
		m := 1
		for _, d := range s {
			if d < 0 {
				return 0, false
			}
			if d != 0 && m > limit/d {
				return 0, false
			}
			m *= d
		}
		if n > limit-m {
			return 0, false
		}
		n += m
	}
	return n, true
}

// Check refuses, in one line, work that needs more float32s (the shapes'
// elements) than limit, or than the machine's RAM where limit is 0.
func Check(what string, limit int, shapes ...[]int) error {
	where := "the device"
	if limit <= 0 {
		limit, where = MaxFloat32s(), fmt.Sprintf("this machine (%s of RAM)", GiB(int64(Physical())))
	}
	if _, ok := Float32s(limit, shapes...); !ok {
		return fmt.Errorf("%s needs more than the %s of memory %s has", what, GiB(int64(limit)*4), where)
	}
	return nil
}

// GiB formats a byte count for messages.
func GiB(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
