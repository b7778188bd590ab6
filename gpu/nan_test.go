package gpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/stress"
)

// The NaN/Inf policy (package backend's doc): NaN and Inf in inputs propagate
// through unmasked positions as IEEE arithmetic would, never out of masked ones,
// the same on every backend. These tests put NaN and Inf into the inputs of
// Gemm, Attention (fused and unfused) and LayerNorm and check that the OpenCL
// device and the pure-Go backend give NaN and Inf at exactly the same places
// (Inf with the same sign), the finite rest within the soak cap, and that the
// non-finite values sit where the arithmetic puts them.

var (
	nan  = float32(math.NaN())
	pInf = float32(math.Inf(1))
	nInf = float32(math.Inf(-1))
)

// nonFiniteAgree runs op on the cpu backend and on d and compares the outputs.
func nonFiniteAgree(t *testing.T, d backend.Backend, rowLen int, op func(t *testing.T, b backend.Backend) []float32) []float32 {
	t.Helper()
	cpu := cpuref.New()
	want := op(t, cpu)
	got := op(t, d)
	if rep := stress.Compare(stress.Case{RowLen: rowLen}, got, want); !rep.OK() {
		t.Errorf("%s vs cpu: %v", d.Name(), rep)
	}
	return want
}

// rowClass counts the NaN and infinite elements of row r of rowLen elements.
func rowClass(data []float32, r, rowLen int) (nans, infs int) {
	for _, x := range data[r*rowLen : (r+1)*rowLen] {
		switch {
		case x != x:
			nans++
		case math.IsInf(float64(x), 0):
			infs++
		}
	}
	return nans, infs
}

func TestNonFiniteGemm(t *testing.T) {
	d := gputest.Device(t)
	const m, n, k = 37, 29, 45
	rng := rand.New(rand.NewPCG(31, 1))
	a, b := randomData(rng, m*k), randomData(rng, k*n)
	a[3*k+7] = nan    // row 3 of C: all NaN
	a[5*k+2] = pInf   // row 5: ±Inf by the sign of b[2, j]
	b[11*n+20] = nInf // column 20: ∓Inf by the sign of a[i, 11]; row 5 column 20: NaN where the signs clash
	out := nonFiniteAgree(t, d, n, func(t *testing.T, be backend.Backend) []float32 {
		at, bt := mustUpload(t, be, a, m, k), mustUpload(t, be, b, k, n)
		c := mustUpload(t, be, make([]float32, m*n), m, n)
		if err := be.Gemm(backend.MatOf(c), backend.MatOf(at), backend.MatOf(bt), backend.GemmOptions{}); err != nil {
			t.Fatal(err)
		}
		return mustDownload(t, be, c)
	})
	if nans, _ := rowClass(out, 3, n); nans != n {
		t.Errorf("row 3 has %d NaN, want %d", nans, n)
	}
	if nans, infs := rowClass(out, 5, n); nans+infs != n {
		t.Errorf("row 5 has %d NaN and %d Inf, want all %d non-finite", nans, infs, n)
	}
	if nans, infs := rowClass(out, 0, n); nans != 0 || infs != 1 || !math.IsInf(float64(out[20]), 0) {
		t.Errorf("row 0 has %d NaN and %d Inf, want only column 20 infinite", nans, infs)
	}
}

func TestNonFiniteLayerNorm(t *testing.T) {
	d := gputest.Device(t)
	const rows, cols = 6, 77
	rng := rand.New(rand.NewPCG(31, 2))
	x, res := randomData(rng, rows*cols), randomData(rng, rows*cols)
	x[1*cols+4] = nan
	x[2*cols+70] = pInf
	res[4*cols] = nInf
	out := nonFiniteAgree(t, d, cols, func(t *testing.T, be backend.Backend) []float32 {
		xt, rt := mustUpload(t, be, x, rows, cols), mustUpload(t, be, res, rows, cols)
		dst := mustUpload(t, be, make([]float32, rows*cols), rows, cols)
		if err := be.LayerNorm(dst, xt, backend.LayerNormOptions{Residual: rt}); err != nil {
			t.Fatal(err)
		}
		return mustDownload(t, be, dst)
	})
	for r := range rows {
		nans, infs := rowClass(out, r, cols)
		poisoned := r == 1 || r == 2 || r == 4 // the mean is NaN or Inf, and Inf - Inf is NaN
		if poisoned && nans != cols || !poisoned && nans+infs != 0 {
			t.Errorf("row %d: %d NaN, %d Inf (poisoned %v)", r, nans, infs, poisoned)
		}
	}
}

// TestNonFiniteAttention: NaN in q poisons that query's row; NaN in k poisons
// the rows that see that key; NaN or Inf in v poisons that value column for the
// queries that see it; a causal mask and key padding keep them out of the rest.
func TestNonFiniteAttention(t *testing.T) {
	d := gputest.Device(t)
	const b, h, s, dim = 2, 2, 19, 24
	rng := rand.New(rand.NewPCG(31, 3))
	q, k, v := randomData(rng, b*h*s*dim), randomData(rng, b*h*s*dim), randomData(rng, b*h*s*dim)
	at := func(bi, hi, si, di int) int { return ((bi*h+hi)*s+si)*dim + di }
	q[at(0, 0, 4, 3)] = nan   // query 4 of (0, 0)
	k[at(0, 1, 9, 0)] = nan   // key 9 of (0, 1): causal queries 9.. see it
	k[at(1, 0, 17, 5)] = pInf // key 17 of batch 1 is padding: must not leak
	v[at(1, 1, 2, 6)] = pInf  // value 2, column 6 of (1, 1): queries 2.. see it
	v[at(1, 0, 17, 1)] = nan  // padded key's value: must not leak
	padding := make([]float32, b*s)
	padding[1*s+17] = 1
	for _, fused := range []bool{true, false} {
		name := map[bool]string{true: "fused", false: "unfused"}[fused]
		t.Run(name, func(t *testing.T) {
			out := nonFiniteAgree(t, d, 0, func(t *testing.T, be backend.Backend) []float32 {
				var heads [4]backend.Heads
				for i, data := range [][]float32{q, k, v, make([]float32, len(q))} {
					hd, err := backend.HeadsOf(mustUpload(t, be, data, b, h, s, dim))
					if err != nil {
						t.Fatal(err)
					}
					heads[i] = hd
				}
				opt := backend.AttentionOptions{Causal: backend.CausalTopLeft, KeyPadding: mustUpload(t, be, padding, b, s)}
				if fused {
					if err := be.Attention(heads[3], heads[0], heads[1], heads[2], opt); err != nil {
						t.Fatal(err)
					}
				} else {
					w := mustUpload(t, be, make([]float32, b*h*s*s), b, h, s, s)
					if err := be.Scores(w, heads[0], heads[1], 0); err != nil {
						t.Fatal(err)
					}
					if err := be.Softmax(w, w, opt); err != nil {
						t.Fatal(err)
					}
					if err := be.AttendValues(heads[3], w, heads[2]); err != nil {
						t.Fatal(err)
					}
				}
				return mustDownload(t, be, heads[3].T)
			})
			for bi := range b {
				for hi := range h {
					for si := range s {
						for di := range dim {
							x := out[at(bi, hi, si, di)]
							var want string
							switch {
							case bi == 0 && hi == 0 && si == 4, bi == 0 && hi == 1 && si >= 9:
								want = "NaN"
							case bi == 1 && hi == 1 && si >= 2 && di == 6:
								want = "+Inf"
							default:
								want = "finite"
							}
							if got := class(x); got != want {
								t.Fatalf("out[%d,%d,%d,%d] = %g, want %s", bi, hi, si, di, x, want)
							}
						}
					}
				}
			}
		})
	}
}

func class(x float32) string {
	switch {
	case x != x:
		return "NaN"
	case math.IsInf(float64(x), 1):
		return "+Inf"
	case math.IsInf(float64(x), -1):
		return "-Inf"
	}
	return "finite"
}

// TestNonFiniteSoftmax: a NaN or +Inf score makes its row NaN, a row of NaN
// too, a row of -Inf gives zeros, and NaN under a boolean mask stays out.
func TestNonFiniteSoftmax(t *testing.T) {
	d := gputest.Device(t)
	const rows, cols = 6, 13
	rng := rand.New(rand.NewPCG(31, 4))
	scores := randomData(rng, rows*cols)
	mask := make([]float32, rows*cols)
	scores[1*cols+3] = nan
	scores[2*cols+12] = pInf
	for j := range cols {
		scores[3*cols+j] = nInf
		scores[5*cols+j] = nan
	}
	scores[4*cols+7], mask[4*cols+7] = nan, 1
	out := nonFiniteAgree(t, d, cols, func(t *testing.T, be backend.Backend) []float32 {
		s := mustUpload(t, be, scores, 1, 1, rows, cols)
		opt := backend.AttentionOptions{Mask: mustUpload(t, be, mask, rows, cols), MaskKind: backend.MaskBool}
		if err := be.Softmax(s, s, opt); err != nil {
			t.Fatal(err)
		}
		return mustDownload(t, be, s)
	})
	for r, want := range []string{"finite", "NaN", "NaN", "zero", "finite", "NaN"} {
		for j := range cols {
			x := out[r*cols+j]
			got := class(x)
			if got == "finite" && x == 0 && want == "zero" {
				got = "zero"
			}
			if got != want {
				t.Fatalf("row %d column %d = %g, want %s", r, j, x, want)
			}
		}
	}
}

// TestNonFiniteReLU: ReLU keeps NaN (fmax(v, 0) would make it 0) in the Gemm
// epilogue and in FeedForward, as cpu and PyTorch do: a NaN in a row of A or x
// poisons that row, a NaN in the bias its column, a NaN in FeedForward's W1
// every output through W2.
func TestNonFiniteReLU(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(31, 5))
	t.Run("gemm", func(t *testing.T) {
		const m, n, k = 21, 19, 33
		a, b, bias := randomData(rng, m*k), randomData(rng, k*n), randomData(rng, n)
		a[3*k+7] = nan
		bias[5] = nan
		out := nonFiniteAgree(t, d, n, func(t *testing.T, be backend.Backend) []float32 {
			at, bt := mustUpload(t, be, a, m, k), mustUpload(t, be, b, k, n)
			c := mustUpload(t, be, make([]float32, m*n), m, n)
			opt := backend.GemmOptions{Bias: mustUpload(t, be, bias, n), Activation: backend.ReLU}
			if err := be.Gemm(backend.MatOf(c), backend.MatOf(at), backend.MatOf(bt), opt); err != nil {
				t.Fatal(err)
			}
			return mustDownload(t, be, c)
		})
		for i := range m {
			for j := range n {
				if isNaN := out[i*n+j] != out[i*n+j]; isNaN != (i == 3 || j == 5) {
					t.Fatalf("C[%d,%d] = %g", i, j, out[i*n+j])
				}
			}
		}
	})
	const rows, dModel, dFF = 7, 24, 40
	ffn := func(t *testing.T, x, w1 []float32) []float32 {
		b1, w2, b2 := randomData(rng, dFF), randomData(rng, dModel*dFF), randomData(rng, dModel)
		return nonFiniteAgree(t, d, dModel, func(t *testing.T, be backend.Backend) []float32 {
			dst := mustUpload(t, be, make([]float32, rows*dModel), rows, dModel)
			w := backend.FFNWeights{W1: mustUpload(t, be, w1, dFF, dModel), B1: mustUpload(t, be, b1, dFF),
				W2: mustUpload(t, be, w2, dModel, dFF), B2: mustUpload(t, be, b2, dModel)}
			if err := be.FeedForward(dst, mustUpload(t, be, x, rows, dModel), w, backend.FFNOptions{Activation: backend.ReLU}); err != nil {
				t.Fatal(err)
			}
			return mustDownload(t, be, dst)
		})
	}
	t.Run("ffn-x", func(t *testing.T) {
		x := randomData(rng, rows*dModel)
		x[2*dModel+9] = nan
		out := ffn(t, x, randomData(rng, dFF*dModel))
		for r := range rows {
			if nans, _ := rowClass(out, r, dModel); nans != map[bool]int{true: dModel, false: 0}[r == 2] {
				t.Errorf("row %d has %d NaN", r, nans)
			}
		}
	})
	t.Run("ffn-w1", func(t *testing.T) {
		w1 := randomData(rng, dFF*dModel)
		w1[11*dModel+3] = nan // linear1.weight: hidden unit 11 is NaN for every row
		out := ffn(t, randomData(rng, rows*dModel), w1)
		for r := range rows {
			if nans, _ := rowClass(out, r, dModel); nans != dModel {
				t.Errorf("row %d has %d NaN, want all %d", r, nans, dModel)
			}
		}
	})
}

// TestNonFiniteAdditiveMask: an additive mask is added to the score, as in
// PyTorch and cpuref, so a NaN or +Inf score under an additive -inf makes its
// row NaN (the OpenCL kernels used to replace it with -inf); a boolean mask
// replaces the score, so the same NaN under it does not leak.
func TestNonFiniteAdditiveMask(t *testing.T) {
	d := gputest.Device(t)
	const sq, sk = 5, 9
	rng := rand.New(rand.NewPCG(31, 6))
	scores := randomData(rng, sq*sk)
	scores[1*sk+4] = nan
	scores[3*sk+2] = pInf
	mask := make([]float32, sq*sk)
	mask[1*sk+4], mask[3*sk+2] = nInf, nInf
	for _, kind := range []backend.MaskKind{backend.MaskAdditive, backend.MaskBool} {
		m := mask
		if kind == backend.MaskBool {
			m = make([]float32, sq*sk)
			m[1*sk+4], m[3*sk+2] = 1, 1
		}
		out := nonFiniteAgree(t, d, sk, func(t *testing.T, be backend.Backend) []float32 {
			st := mustUpload(t, be, scores, 1, 1, sq, sk)
			dst := mustUpload(t, be, make([]float32, sq*sk), 1, 1, sq, sk)
			opt := backend.AttentionOptions{Mask: mustUpload(t, be, m, sq, sk), MaskKind: kind}
			if err := be.Softmax(dst, st, opt); err != nil {
				t.Fatal(err)
			}
			return mustDownload(t, be, dst)
		})
		for r := range sq {
			nans, _ := rowClass(out, r, sk)
			if poisoned := kind == backend.MaskAdditive && (r == 1 || r == 3); poisoned != (nans == sk) || !poisoned && nans != 0 {
				t.Errorf("mask kind %v: row %d has %d NaN", kind, r, nans)
			}
		}
	}
}

// TestGELUNegativeTail checks the GELU epilogue where 1 + erf(x/sqrt 2)
// cancels (x from -3 to -12): each value within 1e-5 of itself, relative, of
// the float64 GELU, as erfc(-z) gives and 1 + erf does not (it is 10% off at
// -4.5 and 0 or garbage beyond -5.5).
func TestGELUNegativeTail(t *testing.T) {
	d := gputest.Device(t)
	var xs []float32
	for x := float32(-3); x >= -12; x -= 0.25 {
		xs = append(xs, x)
	}
	n := len(xs)
	a := mustUpload(t, d, []float32{1}, 1, 1)
	b := mustUpload(t, d, xs, 1, n)
	c := mustUpload(t, d, make([]float32, n), 1, n)
	if err := d.Gemm(backend.MatOf(c), backend.MatOf(a), backend.MatOf(b), backend.GemmOptions{Activation: backend.GELU}); err != nil {
		t.Fatal(err)
	}
	for i, g := range mustDownload(t, d, c) {
		want := oracle.Activate64(backend.GELU, float64(xs[i]))
		if math.Abs(float64(g)-want) > 1e-5*math.Abs(want)+1e-45 {
			t.Errorf("GELU(%g) = %g, want %g (relative error %.2g)", xs[i], g, want, math.Abs(float64(g)-want)/math.Abs(want))
		}
	}
}
