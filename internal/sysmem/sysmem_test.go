package sysmem

import (
	"math"
	"strings"
	"testing"
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
