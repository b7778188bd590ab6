package cpuref

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddTo checks addTo against one add per element on every length around
// the vector kernel's 32, with NaN and +-Inf among the values, leaving the
// elements past len(dst) and src unchanged.
func TestAddTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	for n := range 100 {
		dst, src := make([]float32, n+3), make([]float32, n+3)
		for j := range dst {
			dst[j], src[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		if n > 40 {
			dst[7], src[33], src[40] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
		}
		want := append([]float32(nil), dst...)
		for j := range n {
			want[j] += src[j]
		}
		srcBefore := append([]float32(nil), src...)
		addTo(dst[:n], src)
		for j := range dst {
			if math.Float32bits(dst[j]) != math.Float32bits(want[j]) || math.Float32bits(src[j]) != math.Float32bits(srcBefore[j]) {
				t.Fatalf("n=%d: element %d: dst %v src %v, want dst %v src %v", n, j, dst[j], src[j], want[j], srcBefore[j])
			}
		}
	}
}
