package cpuref

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestScale checks scaleRound and scaleSlice against one operation per element
// (scaleRoundGeneric, scaleSliceGeneric) bit for bit, on every length around
// the vector kernels' 8, with NaN, +-Inf, subnormal values and factors that
// overflow and underflow float32, leaving the elements past the end unchanged.
func TestScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 31))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40, -3e-39, 0, float32(math.Copysign(0, -1)), 3e38}
	for _, inv := range []float64{0.37, 1e-30, 1e30, 1.0 / 3} {
		for n := range 40 {
			src := make([]float32, n+2)
			for j := range src {
				src[j] = float32(rng.NormFloat64() * 10)
			}
			for k, v := range specials {
				if k < n {
					src[rng.IntN(n)] = v
				}
			}
			same := func(what string, got, want []float32) {
				t.Helper()
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s n=%d inv=%g: element %d = %v, want %v", what, n, inv, j, got[j], want[j])
					}
				}
			}
			got, want := make([]float32, n+2), make([]float32, n+2)
			got[n], want[n] = 7, 7
			scaleRound(got[:n], src, inv)
			scaleRoundGeneric(want[:n], src, inv)
			same("scaleRound", got, want)

			got, want = append([]float32(nil), src...), append([]float32(nil), src...)
			scaleSlice(got[:n], float32(inv))
			scaleSliceGeneric(want[:n], float32(inv))
			same("scaleSlice", got, want)
		}
	}
}
