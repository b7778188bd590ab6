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
