package cpuref

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref/internal/sgemm"
)

// TestGemvTransB checks the weight-streaming product for every weight type,
// 1 to gemvMaxRows rows and lengths around the kernels' 32-element step
// (0, 1, 31, 32, 33, 95, 2048 + 7) against float64 sums of exactly the stored
// values, with alpha, beta and row strides past the row length; half weights
// must give bitwise the result of float32 weights of the same values, and the
// inputs must be unchanged.
func TestGemvTransB(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 7))
	const n = 5
	for _, k := range []int{0, 1, 31, 32, 33, 95, 2055} {
		for m := 1; m <= gemvMaxRows; m++ {
			lda, ldw, ldc := k+3, k+1, n+2
			a := make([]float32, m*lda)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			vals := make([]float32, n*ldw)
			for i := range vals {
				vals[i] = float32(r.NormFloat64())
			}
			f16, bf16 := make([]uint16, len(vals)), make([]uint16, len(vals))
			for i, v := range vals {
				f16[i], bf16[i] = backend.Float16Bits(v), backend.BFloat16Bits(v)
			}
			for _, w := range []struct {
				name string
				half weight
			}{{"f16", weight{half: sgemm.Half{Bits: f16}}}, {"bf16", weight{half: sgemm.Half{Bits: bf16, BFloat16: true}}}} {
				exact := make([]float32, len(vals))
				buf := make([]float32, len(vals))
				copy(exact, w.half.row(0, len(vals), buf))
				a0, w0 := append([]float32(nil), a...), append([]float32(nil), exact...)
				c0 := make([]float32, m*ldc)
				for i := range c0 {
					c0[i] = float32(r.NormFloat64())
				}
				got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
				const alpha, beta = 0.75, -0.5
				w.half.gemvTransB(m, n, k, alpha, a, lda, ldw, beta, got, ldc)
				weight{f32: exact}.gemvTransB(m, n, k, alpha, a, lda, ldw, beta, want, ldc)
				for row := range m {
					for j := range n {
						at := row*ldc + j
						if math.Float32bits(got[at]) != math.Float32bits(want[at]) {
							t.Fatalf("k %d, %d rows, %s: c[%d][%d] = %g, float32 weights of the same values give %g",
								k, m, w.name, row, j, got[at], want[at])
						}
						var s, mag float64
						for e := range k {
							p := float64(a[row*lda+e]) * float64(exact[j*ldw+e])
							s += p
							mag += math.Abs(p)
						}
						ref := alpha*s + beta*float64(c0[at])
						tol := 1e-6 * (alpha*mag + math.Abs(beta*float64(c0[at])) + 1) * math.Sqrt(float64(k)+1)
						if math.Abs(float64(got[at])-ref) > tol {
							t.Fatalf("k %d, %d rows, %s: c[%d][%d] = %g, want %g within %g", k, m, w.name, row, j, got[at], ref, tol)
						}
					}
				}
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(a0[i]) {
						t.Fatalf("a[%d] changed", i)
					}
				}
				for i := range exact {
					if math.Float32bits(exact[i]) != math.Float32bits(w0[i]) {
						t.Fatalf("weight %d changed", i)
					}
				}
			}
		}
	}
}
