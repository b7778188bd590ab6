package cpuref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGeluBiasMatchesGelu checks that the vector GELU (assembly where the CPU
// has AVX2 or AVX-512, each kernel the CPU runs) gives bit for bit what gelu
// gives one value at a time, with and without a bias, on every length around
// the vector widths, on a dense sweep, on both sides of gelu's branch points
// and of the tails' intervals, and on NaN, +-Inf and +-0.
func TestGeluBiasMatchesGelu(t *testing.T) {
	for _, k := range geluKernels() {
		t.Run(k.name, func(t *testing.T) {
			defer k.use()()
			testGeluBiasMatchesGelu(t)
		})
	}
}

func testGeluBiasMatchesGelu(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 19))
	var vals []float32
	for v := float32(-16); v <= 12; v += 1.0 / 1024 {
		vals = append(vals, v)
	}
	var edges []float64
	for i := range erfcTailIntervals + 1 { // the tails' interval bounds, as x, the first the branch point
		e := (erfcTailStart + float64(i)*erfcTailWidth) * math.Sqrt2
		edges = append(edges, e, -e)
	}
	for _, edge := range edges {
		e := float32(edge)
		for range 8 {
			vals = append(vals, e)
			e = math.Nextafter32(e, float32(math.Inf(1)))
		}
		e = float32(edge)
		for range 8 {
			e = math.Nextafter32(e, float32(math.Inf(-1)))
			vals = append(vals, e)
		}
	}
	vals = append(vals, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-30, -1e-30, 1e30, -1e30)
	for range 4096 {
		vals = append(vals, float32(rng.NormFloat64()*3))
	}
	check := func(name string, x, bias []float32) {
		t.Helper()
		want := make([]float32, len(x))
		for j, v := range x {
			if bias != nil {
				v += bias[j]
			}
			want[j] = gelu(v)
		}
		got := append([]float32(nil), x...)
		geluBias(got, bias)
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(got[j] != got[j] && want[j] != want[j]) {
				b := float32(0)
				if bias != nil {
					b = bias[j]
				}
				t.Fatalf("%s: element %d of %d: gelu(%g + %g) = %g, one at a time %g", name, j, len(x), x[j], b, got[j], want[j])
			}
		}
	}
	check("sweep", vals, nil)
	bias := make([]float32, len(vals))
	for j := range bias {
		bias[j] = float32(rng.NormFloat64())
	}
	bias[3] = float32(math.NaN())
	check("sweep+bias", vals, bias)
	for n := range 19 {
		check("short", vals[len(vals)-n:], nil)
		check("short+bias", vals[len(vals)-n:], bias[:n])
	}
	check("odd", vals[1:34], bias[5:38])
}

// BenchmarkGELU runs geluBias with a bias over FFN-sized rows of N(0, sigma)
// values (sigma 1: 3.4% of them in gelu's tail branch, sigma 1.5: 16%), with
// each kernel this CPU has: go test ./cpuref -run '^$' -bench GELU
func BenchmarkGELU(b *testing.B) {
	const n = 1536
	for _, sigma := range []float64{1, 1.5} {
		rng := rand.New(rand.NewPCG(3, 5))
		src, bias := make([]float32, n), make([]float32, n)
		for j := range src {
			src[j], bias[j] = float32(rng.NormFloat64()*sigma), float32(rng.NormFloat64()*0.05)
		}
		x := make([]float32, n)
		for _, k := range geluKernels() {
			b.Run(fmt.Sprintf("kernel=%s/sigma=%g/n=%d", k.name, sigma, n), func(b *testing.B) {
				defer k.use()()
				for b.Loop() {
					copy(x, src)
					geluBias(x, bias)
				}
				b.ReportMetric(float64(3*4*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
