// Package sysmem tells how much memory the machine has, so that a size can be
// refused before Go is asked for it: Go cannot recover from an allocation the
// system refuses, it dies with a stack trace.
package sysmem

import (
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
)

// Physical is the machine's RAM in bytes, 0 where it is unknown.
func Physical() uint64 { return physical() }

// L2Cache is the size in bytes of a core's level-2 cache (the one that holds
// data), 0 where it is unknown: cache blocking sizes its blocks by it.
func L2Cache() int { return l2Cache() }

// l2CacheIn reads the level-2 data (or unified) cache's size from fsys, a
// CPU's cache directory in Linux's sysfs (index*/level, type, size: "2048K");
// 0 where there is none or it cannot be read.
func l2CacheIn(fsys fs.FS) int {
	dirs, _ := fs.Glob(fsys, "index*")
	for _, d := range dirs {
		read := func(name string) string {
			b, _ := fs.ReadFile(fsys, d+"/"+name)
			return strings.TrimSpace(string(b))
		}
		if t := read("type"); read("level") != "2" || (t != "Data" && t != "Unified") {
			continue
		}
		size, unit := read("size"), 1
		switch {
		case strings.HasSuffix(size, "K"):
			size, unit = strings.TrimSuffix(size, "K"), 1<<10
		case strings.HasSuffix(size, "M"):
			size, unit = strings.TrimSuffix(size, "M"), 1<<20
		}
		n, err := strconv.Atoi(size)
		if err != nil || n <= 0 {
			return 0
		}
		return n * unit
	}
	return 0
}

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
