package backendtest

import (
	"errors"

	"github.com/clattn/clattn/backend"
)

// testAliasing checks package backend's aliasing rules ("Aliasing"): the calls
// where an output may be an input give exactly the result of the same call
// with separate tensors, and the others are refused with ErrArgument before
// anything is written.
func (s *suite) testAliasing(t tester) {
	m := backend.MatOf
	// same runs call twice, aliased and not, and compares the outputs bitwise.
	same := func(t tester, what string, aliased, separate func(e *env) []float32) {
		e := s.env(t)
		want := separate(e)
		got := aliased(e)
		e.checkSame(what+" aliased vs separate tensors", got, want)
	}
	t.Run("Softmax/in-place", func(t tester) {
		e := s.env(t)
		data := e.uniform(2*3*7*9, -4, 4)
		mask := e.input("mask", e.uniform(7*9, -1, 1), 7, 9)
		opt := backend.AttentionOptions{Mask: mask, MaskKind: backend.MaskAdditive, Causal: backend.CausalBottomRight}
		same(t, "Softmax", func(e *env) []float32 {
			x := e.upload(data, 2, 3, 7, 9)
			e.must("Softmax", e.b.Softmax(x, x, opt))
			return e.download(x)
		}, func(e *env) []float32 {
			dst := e.nanOutput(2, 3, 7, 9)
			e.must("Softmax", e.b.Softmax(dst, e.upload(data, 2, 3, 7, 9), opt))
			return e.download(dst)
		})
	})
	const rows, dm, dff = 13, 24, 40
	for _, which := range []string{"x", "residual"} {
		t.Run("LayerNorm/dst="+which, func(t tester) {
			e := s.env(t)
			x, res := e.uniform(rows*dm, -3, 3), e.uniform(rows*dm, -1, 1)
			gamma, beta := e.input("gamma", e.uniform(dm, 0.5, 1.5), dm), e.input("beta", e.uniform(dm, -1, 1), dm)
			same(t, "LayerNorm", func(e *env) []float32 {
				xt, rt := e.upload(x, rows, dm), e.upload(res, rows, dm)
				dst := map[string]backend.Tensor{"x": xt, "residual": rt}[which]
				e.must("LayerNorm", e.b.LayerNorm(dst, xt, backend.LayerNormOptions{Gamma: gamma, Beta: beta, Residual: rt, Eps: 1e-5}))
				return e.download(dst)
			}, func(e *env) []float32 {
				dst := e.nanOutput(rows, dm)
				e.must("LayerNorm", e.b.LayerNorm(dst, e.upload(x, rows, dm),
					backend.LayerNormOptions{Gamma: gamma, Beta: beta, Residual: e.upload(res, rows, dm), Eps: 1e-5}))
				return e.download(dst)
			})
			e.checkInputs()
		})
		t.Run("FeedForward/dst="+which, func(t tester) {
			e := s.env(t)
			x, res := e.uniform(rows*dm, -1, 1), e.uniform(rows*dm, -1, 1)
			w := backend.FFNWeights{W1: e.input("W1", e.uniform(dff*dm, -0.2, 0.2), dff, dm), B1: e.input("B1", e.uniform(dff, -0.5, 0.5), dff),
				W2: e.input("W2", e.uniform(dm*dff, -0.2, 0.2), dm, dff), B2: e.input("B2", e.uniform(dm, -0.5, 0.5), dm)}
			same(t, "FeedForward", func(e *env) []float32 {
				xt, rt := e.upload(x, rows, dm), e.upload(res, rows, dm)
				dst := map[string]backend.Tensor{"x": xt, "residual": rt}[which]
				e.must("FeedForward", e.b.FeedForward(dst, xt, w, backend.FFNOptions{Activation: backend.GELU, Residual: rt}))
				return e.download(dst)
			}, func(e *env) []float32 {
				dst := e.nanOutput(rows, dm)
				e.must("FeedForward", e.b.FeedForward(dst, e.upload(x, rows, dm), w,
					backend.FFNOptions{Activation: backend.GELU, Residual: e.upload(res, rows, dm)}))
				return e.download(dst)
			})
			e.checkInputs()
		})
	}
	t.Run("PositionalEncoding/dst=x", func(t tester) {
		e := s.env(t)
		x := e.uniform(2*11*16, -1, 1)
		opt := backend.PositionalOptions{Start: 5, InputScale: 4}
		same(t, "PositionalEncoding", func(e *env) []float32 {
			xt := e.upload(x, 2, 11, 16)
			e.must("PositionalEncoding", e.b.PositionalEncoding(xt, xt, opt))
			return e.download(xt)
		}, func(e *env) []float32 {
			dst := e.nanOutput(2, 11, 16)
			e.must("PositionalEncoding", e.b.PositionalEncoding(dst, e.upload(x, 2, 11, 16), opt))
			return e.download(dst)
		})
	})
	t.Run("Gemm/residual=dst", func(t tester) {
		e := s.env(t)
		a, b := e.input("a", e.uniform(17*9, -1, 1), 17, 9), e.input("b", e.uniform(9*21, -1, 1), 9, 21)
		res := e.uniform(17*21, -1, 1)
		opt := backend.GemmOptions{Beta: 0.5, Activation: backend.ReLU}
		same(t, "Gemm", func(e *env) []float32 {
			dst := e.upload(res, 17, 21)
			o, r := opt, m(dst)
			o.Residual = &r
			e.must("Gemm", e.b.Gemm(m(dst), m(a), m(b), o))
			return e.download(dst)
		}, func(e *env) []float32 {
			dst := e.upload(res, 17, 21) // beta reads dst: the same start
			o, r := opt, m(e.upload(res, 17, 21))
			o.Residual = &r
			e.must("Gemm", e.b.Gemm(m(dst), m(a), m(b), o))
			return e.download(dst)
		})
		e.checkInputs()
	})

	// The refused calls: ErrArgument, and neither the output nor any input changed.
	e := s.env(t)
	cur := e
	in := func(name string, shape ...int) backend.Tensor {
		return cur.input(name, cur.uniform(backend.Shape(shape).Numel(), -1, 1), shape...)
	}
	heads := func(x backend.Tensor) backend.Heads {
		h, err := backend.HeadsOf(x)
		cur.must("HeadsOf", err)
		return h
	}
	refused := []struct {
		name string
		call func() error
	}{
		{"Gemm/dst=a", func() error { a := in("a", 8, 8); return e.b.Gemm(m(a), m(a), m(in("b", 8, 8)), backend.GemmOptions{}) }},
		{"Gemm/dst=b", func() error { b := in("b", 8, 8); return e.b.Gemm(m(b), m(in("a", 8, 8)), m(b), backend.GemmOptions{}) }},
		{"Gemm/dst=a-disjoint-view", func() error {
			// Rows 0..3 of a tensor times B into rows 4..7: the views do not overlap, still refused.
			x := in("x", 8, 4)
			top := backend.Mat{T: x, Batch: 1, Rows: 4, Cols: 4, RowStride: 4}
			bottom := top
			bottom.Offset = 16
			return e.b.Gemm(bottom, top, m(in("b", 4, 4)), backend.GemmOptions{})
		}},
		{"Gemm/dst=bias", func() error {
			bias := in("bias", 6)
			return e.b.Gemm(m(bias), m(in("a", 1, 3)), m(in("b", 3, 6)), backend.GemmOptions{Bias: bias})
		}},
		{"Gemm/residual-other-view-of-dst", func() error {
			dst := in("dst", 8, 4)
			r := backend.Mat{T: dst, Batch: 1, Rows: 4, Cols: 4, RowStride: 4, Offset: 16}
			top := r
			top.Offset = 0
			return e.b.Gemm(top, m(in("a", 4, 3)), m(in("b", 3, 4)), backend.GemmOptions{Residual: &r})
		}},
		{"Attention/out=q=k=v", func() error {
			a := heads(in("a", 1, 2, 5, 8))
			return e.b.Attention(a, a, a, a, backend.AttentionOptions{})
		}},
		{"Attention/out=v", func() error {
			v := heads(in("v", 1, 2, 5, 8))
			return e.b.Attention(v, heads(in("q", 1, 2, 5, 8)), heads(in("k", 1, 2, 5, 8)), v, backend.AttentionOptions{})
		}},
		{"Attention/out=mask", func() error {
			mask := in("mask", 1, 1, 4, 4)
			q := heads(in("q", 1, 1, 4, 4))
			return e.b.Attention(heads(mask), q, heads(in("k", 1, 1, 4, 4)), heads(in("v", 1, 1, 4, 4)),
				backend.AttentionOptions{Mask: mask, MaskKind: backend.MaskAdditive})
		}},
		{"Scores/dst=q", func() error {
			dst := in("dst", 1, 2, 6, 6)
			return e.b.Scores(dst, heads(dst), heads(in("k", 1, 2, 6, 6)), 0)
		}},
		{"Softmax/dst=mask", func() error {
			mask := in("mask", 1, 1, 4, 4)
			return e.b.Softmax(mask, in("scores", 1, 1, 4, 4), backend.AttentionOptions{Mask: mask, MaskKind: backend.MaskAdditive})
		}},
		{"AttendValues/out=weights", func() error {
			w := in("w", 1, 2, 6, 6)
			return e.b.AttendValues(heads(w), w, heads(in("v", 1, 2, 6, 6)))
		}},
		{"LayerNorm/dst=gamma", func() error {
			gamma := in("gamma", 8)
			return e.b.LayerNorm(gamma, in("x", 8), backend.LayerNormOptions{Gamma: gamma})
		}},
		{"FeedForward/dst=W1", func() error {
			w1 := in("W1", 16, 8)
			return e.b.FeedForward(w1, in("x", 16, 8), backend.FFNWeights{W1: w1, W2: in("W2", 8, 16)}, backend.FFNOptions{})
		}},
	}
	for _, c := range refused {
		t.Run(c.name, func(t tester) {
			cur = s.env(t)
			e = cur
			if err := c.call(); !errors.Is(err, backend.ErrArgument) {
				t.Fatalf("got error %v, want one wrapping ErrArgument", err)
			}
			cur.checkInputs()
		})
	}
}

// testNilTensors passes nil where a tensor is required: every operation and
// view constructor returns ErrArgument, never panics.
func (s *suite) testNilTensors(t tester) {
	e := s.env(t)
	cur := e
	zeros := func(shape ...int) backend.Tensor {
		return cur.upload(make([]float32, backend.Shape(shape).Numel()), shape...)
	}
	heads := func(shape ...int) backend.Heads {
		h, err := backend.HeadsOf(zeros(shape...))
		cur.must("HeadsOf", err)
		return h
	}
	m := backend.MatOf
	var none backend.Tensor
	cases := []struct {
		name string
		call func() error
	}{
		{"HeadsOf", func() error { _, err := backend.HeadsOf(nil); return err }},
		{"PackedHeads", func() error { _, err := backend.PackedHeads(nil, 2, 4, 0); return err }},
		{"Download", func() error { return e.b.Download(make([]float32, 4), nil) }},
		{"Write", func() error { return e.b.Write(nil, make([]float32, 4)) }},
		{"Gemm/dst", func() error { return e.b.Gemm(m(none), m(zeros(3, 4)), m(zeros(4, 5)), backend.GemmOptions{}) }},
		{"Gemm/a", func() error {
			return e.b.Gemm(m(zeros(3, 5)), backend.RowsOf(none), m(zeros(4, 5)), backend.GemmOptions{})
		}},
		{"Attention/q", func() error {
			return e.b.Attention(heads(1, 1, 3, 4), backend.Heads{}, heads(1, 1, 3, 4), heads(1, 1, 3, 4), backend.AttentionOptions{})
		}},
		{"Scores/dst", func() error { return e.b.Scores(nil, heads(1, 1, 3, 4), heads(1, 1, 3, 4), 0) }},
		{"Softmax/scores", func() error { return e.b.Softmax(zeros(1, 1, 3, 3), nil, backend.AttentionOptions{}) }},
		{"Softmax/dst", func() error { return e.b.Softmax(nil, zeros(1, 1, 3, 3), backend.AttentionOptions{}) }},
		{"AttendValues/weights", func() error { return e.b.AttendValues(heads(1, 1, 3, 4), nil, heads(1, 1, 3, 4)) }},
		{"LayerNorm/x", func() error { return e.b.LayerNorm(zeros(3, 4), nil, backend.LayerNormOptions{}) }},
		{"LayerNorm/dst", func() error { return e.b.LayerNorm(nil, zeros(3, 4), backend.LayerNormOptions{}) }},
		{"FeedForward/W2", func() error {
			return e.b.FeedForward(zeros(3, 4), zeros(3, 4), backend.FFNWeights{W1: zeros(8, 4)}, backend.FFNOptions{})
		}},
		{"PositionalEncoding/dst", func() error { return e.b.PositionalEncoding(nil, nil, backend.PositionalOptions{}) }},
		{"WriteKV/cache", func() error { return e.b.WriteKV(nil, heads(1, 1, 3, 4), 0) }},
		{"WriteKV/src", func() error { return e.b.WriteKV(zeros(1, 1, 3, 4), backend.Heads{}, 0) }},
		{"KVHeads", func() error { _, err := backend.KVHeads(nil, 1); return err }},
		{"RMSNorm/x", func() error { return e.b.RMSNorm(zeros(3, 4), nil, backend.RMSNormOptions{}) }},
		{"RMSNorm/dst", func() error { return e.b.RMSNorm(nil, zeros(3, 4), backend.RMSNormOptions{}) }},
		{"Rotary/x", func() error { return e.b.Rotary(heads(1, 1, 3, 4), backend.Heads{}, backend.RotaryOptions{}) }},
		{"GatedFeedForward/Up", func() error {
			return e.b.GatedFeedForward(zeros(3, 4), zeros(3, 4), backend.GatedFFNWeights{Gate: zeros(8, 4), Down: zeros(4, 8)}, backend.FFNOptions{})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t tester) {
			cur = s.env(t)
			e = cur
			if err := c.call(); !errors.Is(err, backend.ErrArgument) {
				t.Fatalf("got error %v, want one wrapping ErrArgument", err)
			}
		})
	}
}
