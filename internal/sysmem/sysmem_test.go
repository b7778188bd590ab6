package sysmem

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFloat32s(t *testing.T) {
	for _, c := range []struct {
		limit  int
		shapes [][]int
		n      int
		ok     bool
	}{
		{100, [][]int{{2, 3}, {4}}, 10, true},
		{100, [][]int{{0, 1 << 62}}, 0, true},
		{10, [][]int{{2, 3}, {5}}, 0, false},
		{math.MaxInt, [][]int{{1 << 40, 1 << 40}}, 0, false},   // the product overflows
		{math.MaxInt, [][]int{{1 << 62}, {1 << 62}}, 0, false}, // the sum overflows
		{100, [][]int{{-1, 2}}, 0, false},
	} {
		n, ok := Float32s(c.limit, c.shapes...)
		if n != c.n || ok != c.ok {
			t.Errorf("Float32s(%d, %v) = %d, %v; want %d, %v", c.limit, c.shapes, n, ok, c.n, c.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := Check("small", 0, []int{1000}); err != nil {
		t.Errorf("1000 floats: %v", err)
	}
	err := Check("huge", 0, []int{1 << 31, 1 << 31})
	if err == nil || !strings.Contains(err.Error(), "huge needs more than") {
		t.Errorf("2^62 floats: got %v", err)
	}
	if err := Check("on the device", 1000, []int{1001}); err == nil || !strings.Contains(err.Error(), "the device") {
		t.Errorf("over a device limit: got %v", err)
	}
}

// TestL2CacheIn reads sysfs cache directories: the level-2 data or unified
// cache in K or M, none where there is no such cache or its size is bad.
func TestL2CacheIn(t *testing.T) {
	cache := func(level, typ, size string) map[string]string {
		return map[string]string{"level": level + "\n", "type": typ + "\n", "size": size + "\n"}
	}
	dir := func(caches ...map[string]string) fstest.MapFS {
		fsys := fstest.MapFS{}
		for i, c := range caches {
			for name, v := range c {
				fsys[fmt.Sprintf("index%d/%s", i, name)] = &fstest.MapFile{Data: []byte(v)}
			}
		}
		return fsys
	}
	for _, c := range []struct {
		name string
		fsys fstest.MapFS
		want int
	}{
		{"intel", dir(cache("1", "Data", "48K"), cache("1", "Instruction", "32K"), cache("2", "Unified", "2048K"), cache("3", "Unified", "266240K")), 2 << 20},
		{"megabytes", dir(cache("2", "Unified", "1M")), 1 << 20},
		{"data", dir(cache("2", "Instruction", "64K"), cache("2", "Data", "512K")), 512 << 10},
		{"no-l2", dir(cache("1", "Data", "32K"), cache("3", "Unified", "8M")), 0},
		{"bad-size", dir(cache("2", "Unified", "lots")), 0},
		{"empty", fstest.MapFS{}, 0},
	} {
		if got := l2CacheIn(c.fsys); got != c.want {
			t.Errorf("%s: l2CacheIn = %d, want %d", c.name, got, c.want)
		}
	}
}
