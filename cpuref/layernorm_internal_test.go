package cpuref

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLayerNormRowKernels checks the row kernels of LayerNorm (assembly where
// the CPU has AVX-512 or AVX2) on every length around the vector widths and
// their unrolled loops: the affine pass bit for bit against the scalar loop,
// in place too; the float64 sums, which add in another order, to within a few
// float64 ulps of the sums in order; NaN and Inf propagate.
func TestLayerNormRowKernels(t *testing.T) {
	for _, k := range layerNormKernels() {
		t.Run(k.name, func(t *testing.T) {
			defer k.use()()
			testLayerNormRowKernels(t)
		})
	}
}

func testLayerNormRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for n := range 140 {
		y := make([]float32, n)
		g := make([]float32, n)
		b := make([]float32, n)
		for j := range y {
			y[j] = float32(rng.NormFloat64()*3 + 1)
			g[j] = float32(1 + 0.2*rng.NormFloat64())
			b[j] = float32(0.2 * rng.NormFloat64())
		}
		var sum, ss float64
		for _, v := range y {
			sum += float64(v)
		}
		mean := 0.0
		if n > 0 {
			mean = sum / float64(n)
		}
		for _, v := range y {
			ss += (float64(v) - mean) * (float64(v) - mean)
		}
		if got := rowSum(y); math.Abs(got-sum) > 1e-14*(1+math.Abs(sum)) {
			t.Fatalf("n=%d: rowSum %v, in order %v", n, got, sum)
		}
		if got := rowSqDev(y, mean); math.Abs(got-ss) > 1e-14*(1+ss) {
			t.Fatalf("n=%d: rowSqDev %v, in order %v", n, got, ss)
		}
		rstd := 1 / math.Sqrt(ss/float64(max(n, 1))+1e-5)
		want := make([]float32, n)
		normAffineGeneric(want, y, g, b, mean, rstd)
		got := make([]float32, n)
		normAffine(got, y, g, b, mean, rstd)
		inPlace := append([]float32(nil), y...)
		normAffine(inPlace, inPlace, g, b, mean, rstd)
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) || math.Float32bits(inPlace[j]) != math.Float32bits(want[j]) {
				t.Fatalf("n=%d, element %d: %v (in place %v), scalar loop %v", n, j, got[j], inPlace[j], want[j])
			}
		}
	}
	y := make([]float32, 73)
	for j := range y {
		y[j] = float32(j + 1)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		for _, at := range []int{0, 40, 64, 72} { // in each path's part of the row
			z := append([]float32(nil), y...)
			z[at] = bad
			if s := rowSum(z); !math.IsNaN(s) && !math.IsInf(s, 1) {
				t.Fatalf("rowSum with %v at %d = %v", bad, at, s)
			}
		}
	}
}
