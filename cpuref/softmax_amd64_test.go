//go:build !purego

package cpuref

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpShiftAVX512 checks that the AVX-512 kernel gives every value and the
// sum bit for bit as the AVX2 kernel, on every row length around both vector
// widths and longer, with -Inf, NaN, values below exp's range and in its
// subnormal range.
func TestExpShiftAVX512(t *testing.T) {
	if !useAVX512Exp {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(17, 23))
	lengths := []int{128, 257, 1000}
	for n := range 80 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for trial := range 3 {
			x := make([]float32, n)
			for j := range x {
				x[j] = float32(rng.NormFloat64() * 3 * float64(1+9*trial))
			}
			special := []float32{float32(math.Inf(-1)), -200, -95, -87.5, -103.5, -104}
			if trial == 2 {
				special = append(special, float32(math.NaN()))
			}
			for _, v := range special {
				if n > 0 {
					x[rng.IntN(n)] = v
				}
			}
			m := rowMax(x)
			if m == negInf {
				m = 0
			}
			a2, a512 := append([]float32(nil), x...), append([]float32(nil), x...)
			var s2, s512 float32
			if len(x) > 0 {
				s2 = expShiftAVX2(&a2[0], n, m)
				s512 = expShiftAVX512(&a512[0], n, m)
			}
			for j := range x {
				if math.Float32bits(a512[j]) != math.Float32bits(a2[j]) {
					t.Fatalf("n=%d: exp(%v - %v): AVX-512 %v, AVX2 %v", n, x[j], m, a512[j], a2[j])
				}
			}
			if math.Float32bits(s512) != math.Float32bits(s2) {
				t.Fatalf("n=%d: sum: AVX-512 %v, AVX2 %v", n, s512, s2)
			}
		}
	}
}

// TestExpShiftAVX512Exhaustive checks the AVX-512 kernel against the AVX2
// kernel bit for bit on every float32 from -105 to -80, where exp's result
// goes from normal through subnormal to 0 (each kernel scales it there its own
// way), and on every 64th float32 from -80 to 0.
func TestExpShiftAVX512Exhaustive(t *testing.T) {
	if !useAVX512Exp {
		t.Skip("no AVX-512 on this CPU")
	}
	var x []float32
	for b := math.Float32bits(80); b <= math.Float32bits(105); b++ {
		x = append(x, -math.Float32frombits(b))
	}
	for b := uint32(0); b < math.Float32bits(80); b += 64 {
		x = append(x, -math.Float32frombits(b))
	}
	a2, a512 := append([]float32(nil), x...), append([]float32(nil), x...)
	expShiftAVX2(&a2[0], len(x), 0)
	expShiftAVX512(&a512[0], len(x), 0)
	for j := range x {
		if math.Float32bits(a512[j]) != math.Float32bits(a2[j]) {
			t.Fatalf("exp(%v): AVX-512 %v (%#x), AVX2 %v (%#x)", x[j], a512[j], math.Float32bits(a512[j]), a2[j], math.Float32bits(a2[j]))
		}
	}
}

// BenchmarkExpShift runs each exp kernel on attention rows of 128 scores:
// go test ./cpuref -run '^$' -bench ExpShift
func BenchmarkExpShift(b *testing.B) {
	const n = 128
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, n)
	for j := range src {
		src[j] = float32(rng.NormFloat64() * 3)
	}
	m := rowMax(src)
	x := make([]float32, n)
	kernels := []struct {
		name string
		run  func() float32
		ok   bool
	}{
		{"avx2", func() float32 { return expShiftAVX2(&x[0], n, m) }, useAVX2},
		{"avx512", func() float32 { return expShiftAVX512(&x[0], n, m) }, useAVX512Exp},
	}
	for _, k := range kernels {
		if !k.ok {
			continue
		}
		b.Run("kernel="+k.name+"/n=128", func(b *testing.B) {
			for b.Loop() {
				copy(x, src)
				k.run()
			}
			b.ReportMetric(float64(8*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
