package backend

import (
	"errors"
	"math"
	"testing"
)

func TestCheckShape(t *testing.T) {
	cases := []struct {
		shape []int
		limit int
		n     int
		err   error
	}{
		{nil, 10, 1, nil},
		{[]int{2, 3}, 10, 6, nil},
		{[]int{0, 5}, 10, 0, nil},
		// Every dimension counts, whatever the order, zeros or not.
		{[]int{0, math.MaxInt}, 10, 0, ErrTooLarge},
		{[]int{1 << 40, 0, 64}, math.MaxInt32, 0, ErrTooLarge},
		{[]int{0, 1 << 40, 64}, math.MaxInt32, 0, ErrTooLarge},
		{[]int{64, 1 << 40, 0}, math.MaxInt32, 0, ErrTooLarge},
		{[]int{2, 6}, 10, 0, ErrTooLarge},
		{[]int{1 << 62, 1 << 62}, math.MaxInt, 0, ErrTooLarge},
		{[]int{3, -1}, 10, 0, ErrShape},
		{[]int{0, -1}, 10, 0, ErrShape},
	}
	for _, c := range cases {
		n, err := CheckShape("Alloc", c.shape, c.limit)
		if n != c.n || !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("CheckShape(%v, %d) = %d, %v; want %d, %v", c.shape, c.limit, n, err, c.n, c.err)
		}
	}
}

func TestEpsFloat32(t *testing.T) {
	for _, eps := range []float64{1e-5, 1e-12, 1e-45, 1} {
		if e, err := EpsFloat32(eps); err != nil || e != float32(eps) {
			t.Errorf("EpsFloat32(%g) = %g, %v", eps, e, err)
		}
	}
	for _, eps := range []float64{0, -1e-5, 1e-46, 1e-50, math.NaN(), math.Inf(1), 1e39} {
		if _, err := EpsFloat32(eps); !errors.Is(err, ErrArgument) {
			t.Errorf("EpsFloat32(%g): got %v, want ErrArgument", eps, err)
		}
	}
}
