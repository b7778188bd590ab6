package backendtest

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// testFusedNorm checks GemmOptions.Norm and FFNOptions.Norm: a product with a
// Norm gives bit for bit what the product without it followed by
// LayerNorm(dst, dst, norm) gives, for few rows and for enough rows that a
// backend may split them into chunks (each normalised as it is finished),
// with and without gamma and beta, a batched and a transposed product; the
// inputs are left unchanged.
func (s *suite) testFusedNorm(t tester) {
	const dm, dff = 24, 40
	for _, rows := range []int{1, 13, 1100} {
		for _, affine := range []bool{true, false} {
			name := fmt.Sprintf("rows=%d/affine=%v", rows, affine)
			t.Run("Gemm/"+name, func(t tester) {
				e := s.env(t)
				norm := e.normOptions(dm, affine)
				x := e.input("a", e.uniform(rows*dff, -1, 1), rows, dff)
				w := e.input("b", e.uniform(dm*dff, -0.3, 0.3), dm, dff)
				res := backend.MatOf(e.input("residual", e.uniform(rows*dm, -1, 1), rows, dm))
				opt := backend.GemmOptions{TransB: true, Bias: e.input("bias", e.uniform(dm, -0.5, 0.5), dm),
					Activation: backend.GELU, Residual: &res}
				e.checkFusedNorm("Gemm", norm, rows, dm, func(dst backend.Tensor, n *backend.LayerNormOptions) error {
					o := opt
					o.Norm = n
					return e.b.Gemm(backend.RowsOf(dst), backend.RowsOf(x), backend.MatOf(w), o)
				})
				e.checkInputs()
			})
			t.Run("FeedForward/"+name, func(t tester) {
				e := s.env(t)
				norm := e.normOptions(dm, affine)
				x := e.input("x", e.uniform(rows*dm, -1, 1), rows, dm)
				w := backend.FFNWeights{W1: e.input("W1", e.uniform(dff*dm, -0.3, 0.3), dff, dm), B1: e.input("B1", e.uniform(dff, -0.5, 0.5), dff),
					W2: e.input("W2", e.uniform(dm*dff, -0.3, 0.3), dm, dff), B2: e.input("B2", e.uniform(dm, -0.5, 0.5), dm)}
				e.checkFusedNorm("FeedForward", norm, rows, dm, func(dst backend.Tensor, n *backend.LayerNormOptions) error {
					return e.b.FeedForward(dst, x, w, backend.FFNOptions{Activation: backend.GELU, Residual: x, Norm: n})
				})
				e.checkInputs()
			})
		}
	}
	t.Run("Gemm/batched-transposed", func(t tester) {
		e := s.env(t)
		const batch, rows = 3, 7
		norm := e.normOptions(dm, true)
		a := e.input("a", e.uniform(batch*dff*rows, -1, 1), batch, dff, rows)
		w := e.input("b", e.uniform(dff*dm, -0.3, 0.3), dff, dm)
		e.checkFusedNorm("Gemm", norm, batch*rows, dm, func(dst backend.Tensor, n *backend.LayerNormOptions) error {
			d := backend.Mat{T: dst, Batch: batch, Rows: rows, Cols: dm, BatchStride: rows * dm, RowStride: dm}
			return e.b.Gemm(d, backend.MatOf(a), backend.Mat{T: w, Batch: 1, Rows: dff, Cols: dm, RowStride: dm},
				backend.GemmOptions{TransA: true, Norm: n})
		})
		e.checkInputs()
	})
}

// normOptions are the options of a LayerNorm of rows of dm values: random
// gamma and beta (inputs) where affine is set, none otherwise.
func (e *env) normOptions(dm int, affine bool) backend.LayerNormOptions {
	if !affine {
		return backend.LayerNormOptions{Eps: 1e-3}
	}
	return backend.LayerNormOptions{Gamma: e.input("gamma", e.uniform(dm, 0.5, 1.5), dm),
		Beta: e.input("beta", e.uniform(dm, -1, 1), dm), Eps: 1e-5}
}

// checkFusedNorm runs call into a NaN-filled [rows, dm] dst with norm, and
// again without a norm followed by LayerNorm(dst, dst, norm), and compares the
// two bitwise.
func (e *env) checkFusedNorm(op string, norm backend.LayerNormOptions, rows, dm int, call func(dst backend.Tensor, norm *backend.LayerNormOptions) error) {
	e.t.Helper()
	fused := e.nanOutput(rows, dm)
	e.must(op+" with Norm", call(fused, &norm))
	separate := e.nanOutput(rows, dm)
	e.must(op, call(separate, nil))
	e.must("LayerNorm", e.b.LayerNorm(separate, separate, norm))
	e.checkSame(op+" with Norm vs "+op+" then LayerNorm", e.download(fused), e.download(separate))
}
