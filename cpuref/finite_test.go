package cpuref

import (
	"math"
	"testing"
)

// TestAllFiniteRows checks allFiniteRows (the AVX2 kernel where the CPU has
// it) against one test per element, on views of every width around the
// kernel's 8 columns: a NaN, +Inf or -Inf anywhere in the view is found, and
// one in the gaps between its rows, or just past its end, is not; the largest
// finite values and subnormals are finite.
func TestAllFiniteRows(t *testing.T) {
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for cols := range 20 {
		for _, rows := range []int{1, 3} {
			stride := cols + 5
			x := make([]float32, rows*stride)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			x[0], x[len(x)-1] = math.MaxFloat32, -math.SmallestNonzeroFloat32
			if cols > 0 && !allFiniteRows(x, rows, cols, stride) {
				t.Fatalf("%dx%d: finite values reported non-finite", rows, cols)
			}
			for i := range x {
				in := i%stride < cols
				for _, v := range bad {
					old := x[i]
					x[i] = v
					if got := allFiniteRows(x, rows, cols, stride); got == in {
						t.Fatalf("%dx%d, stride %d: %v at %d (in the view: %v): allFiniteRows = %v", rows, cols, stride, v, i, in, got)
					}
					x[i] = old
				}
			}
		}
	}
}

// TestHasZero checks hasZero (the AVX2 kernel where the CPU has it) on every
// length around the kernel's 8 lanes: +0 or -0 at any position is found, one
// just past the end is not, and NaN, subnormals and ±Inf are not zeros.
func TestHasZero(t *testing.T) {
	nonZero := []float32{float32(math.NaN()), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), 1}
	for n := range 27 {
		x := make([]float32, n+1)
		for i := range x {
			x[i] = nonZero[i%len(nonZero)]
		}
		x[n] = 0 // past the end
		if hasZero(x[:n]) {
			t.Fatalf("n=%d: no zero, hasZero true", n)
		}
		for i := range n {
			for _, z := range []float32{0, float32(math.Copysign(0, -1))} {
				old := x[i]
				x[i] = z
				if !hasZero(x[:n]) {
					t.Fatalf("n=%d: %v at %d not found", n, z, i)
				}
				x[i] = old
			}
		}
	}
}
