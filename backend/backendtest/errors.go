package backendtest

import (
	"errors"
	"math"
	"strings"

	"github.com/clattn/clattn/backend"
)

func (s *suite) testTensors(t tester) {
	t.Run("upload-download", func(t tester) {
		e := s.env(t)
		special := []float32{nan32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)),
			math.SmallestNonzeroFloat32, math.MaxFloat32, -1.5}
		for _, shape := range [][]int{{}, {7}, {3, 5}, {2, 3, 4, 5}} {
			n := backend.Shape(shape).Numel()
			data := e.uniform(n, -10, 10)
			copy(data, special)
			sh := append([]int(nil), shape...)
			x := e.upload(data, sh...)
			want := append([]float32(nil), data...)
			data[0] = 42 // the backend must have copied data and shape
			if len(sh) > 0 {
				sh[0] = 99
			}
			if !x.Shape().Equal(shape) {
				t.Errorf("Upload %v: tensor shape is %v", backend.Shape(shape), x.Shape())
			}
			if i := firstBitDiff(e.download(x), want); i >= 0 {
				t.Errorf("Upload/Download %v: element %d differs", backend.Shape(shape), i)
			}
		}
	})
	t.Run("write", func(t tester) {
		// Write overwrites a tensor in place with data converted to its dtype,
		// copies data (later changes to it do not reach the tensor) and leaves
		// the caller's slice as it was; a wrong length changes nothing.
		e := s.env(t)
		special := []float32{nan32, float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 65520, 1e-8, -1.5}
		for _, d := range []backend.DType{backend.Float32, backend.Float16, backend.BFloat16} {
			for _, shape := range [][]int{{}, {7}, {3, 5}, {2, 3, 4, 5}} {
				n := backend.Shape(shape).Numel()
				x, err := e.b.UploadAs(d, filled(n, nan32), shape...)
				e.must("UploadAs", err)
				for round := range 2 {
					data := e.uniform(n, -10, 10)
					copy(data, special[round:])
					sent := append([]float32(nil), data...)
					e.must("Write", e.b.Write(x, data))
					if i := firstBitDiff(data, sent); i >= 0 {
						t.Errorf("Write %v %v changed its data at element %d", d, backend.Shape(shape), i)
					}
					want := roundTo(d, append([]float32(nil), data...))
					data[0] = 42
					if i := firstBitDiff(e.download(x), want); i >= 0 {
						t.Errorf("Write %v %v (round %d): element %d differs", d, backend.Shape(shape), round, i)
					}
					if err := e.b.Write(x, make([]float32, n+1)); !errors.Is(err, backend.ErrShape) ||
						!strings.Contains(err.Error(), backend.Shape(shape).String()) {
						t.Errorf("Write of %d values to %v %v: got %v, want ErrShape naming the shape", n+1, d, backend.Shape(shape), err)
					}
					if i := firstBitDiff(e.download(x), want); i >= 0 {
						t.Errorf("a refused Write changed %v %v at element %d", d, backend.Shape(shape), i)
					}
				}
				e.must("Release", x.Release())
			}
		}
	})
	t.Run("alloc-zero", func(t tester) {
		e := s.env(t)
		x, err := e.b.Alloc(4, 7)
		e.must("Alloc", err)
		defer x.Release()
		if !x.Shape().Equal(backend.Shape{4, 7}) {
			t.Errorf("Alloc(4, 7): tensor shape is %v", x.Shape())
		}
		if i := firstBitDiff(e.download(x), make([]float32, 28)); i >= 0 {
			t.Errorf("Alloc(4, 7): element %d is not +0", i)
		}
	})
	t.Run("release", func(t tester) {
		e := s.env(t)
		x := e.upload([]float32{1, 2, 3}, 3)
		for range 2 {
			if err := x.Release(); err != nil {
				t.Errorf("Release (idempotent): %v", err)
			}
		}
		if err := e.b.Download(make([]float32, 3), x); !errors.Is(err, backend.ErrReleased) {
			t.Errorf("Download of a released tensor: got %v, want ErrReleased", err)
		}
	})
	t.Run("too-large", func(t tester) {
		// Refused before anything is allocated: an element count that overflows
		// an int, one beyond any memory, and a huge shape uploaded with little data.
		e := s.env(t)
		for _, shape := range [][]int{{1 << 62, 1 << 62}, {1 << 20, 1 << 20, 1 << 20}} {
			if x, err := e.b.Alloc(shape...); !errors.Is(err, backend.ErrTooLarge) || !strings.Contains(err.Error(), backend.Shape(shape).String()) {
				t.Errorf("Alloc%v: got %v, want ErrTooLarge naming the shape", backend.Shape(shape), err)
				if x != nil {
					x.Release()
				}
			}
		}
		if x, err := e.b.Upload([]float32{1, 2, 3}, 1<<62, 1<<62); err == nil {
			t.Errorf("Upload of 3 values as [2^62 2^62] succeeded")
			x.Release()
		}
		if x, err := e.b.Alloc(2, -3); !errors.Is(err, backend.ErrShape) {
			t.Errorf("Alloc(2, -3): got %v, want ErrShape", err)
			if x != nil {
				x.Release()
			}
		}
	})
}

func (s *suite) testZeroSize(t tester) {
	t.Run("tensors", func(t tester) {
		e := s.env(t)
		for _, shape := range [][]int{{0}, {0, 5}, {3, 0}, {2, 0, 4}} {
			x, err := e.b.Alloc(shape...)
			e.must("Alloc", err)
			e.must("Download", e.b.Download(nil, x))
			e.must("Release", x.Release())
			y := e.upload([]float32{}, shape...)
			e.must("Download", e.b.Download([]float32{}, y))
		}
	})
	t.Run("Gemm/m=0,n=0", func(t tester) {
		e := s.env(t)
		a, b := e.upload(nil, 0, 3), e.upload(e.uniform(15, -1, 1), 3, 5)
		e.must("Gemm m=0", e.b.Gemm(backend.MatOf(e.upload(nil, 0, 5)), backend.MatOf(a), backend.MatOf(b), backend.GemmOptions{}))
		c := e.upload(e.uniform(12, -1, 1), 4, 3)
		e.must("Gemm n=0", e.b.Gemm(backend.MatOf(e.upload(nil, 4, 0)), backend.MatOf(c), backend.MatOf(e.upload(nil, 3, 0)), backend.GemmOptions{}))
		e.must("Gemm batch=0", e.b.Gemm(backend.MatOf(e.upload(nil, 0, 4, 5)), backend.MatOf(e.upload(nil, 0, 4, 3)),
			backend.MatOf(e.upload(nil, 0, 3, 5)), backend.GemmOptions{}))
	})
	t.Run("Gemm/k=0,bias,relu,residual", func(t tester) {
		// An empty product is zero: dst = relu(bias) + residual, and NaN in dst is not read.
		e := s.env(t)
		bias, res := e.uniform(5, -1, 1), e.uniform(20, -1, 1)
		resT := backend.MatOf(e.input("residual", res, 4, 5))
		dst := e.nanOutput(4, 5)
		opt := backend.GemmOptions{Bias: e.input("bias", bias, 5), Activation: backend.ReLU, Residual: &resT}
		e.must("Gemm", e.b.Gemm(backend.MatOf(dst), backend.MatOf(e.upload(nil, 4, 0)), backend.MatOf(e.upload(nil, 0, 5)), opt))
		ref := make([]float64, 20)
		for i := range ref {
			ref[i] = math.Max(float64(bias[i%5]), 0) + float64(res[i])
		}
		e.checkRows("Gemm k=0", e.download(dst), ref, nil, 5)
		e.checkInputs()
	})
	heads := func(e *env, t backend.Tensor) backend.Heads {
		h, err := backend.HeadsOf(t)
		e.must("HeadsOf", err)
		return h
	}
	t.Run("Attention/b=0,sq=0", func(t tester) {
		e := s.env(t)
		for _, d := range [][2]int{{0, 5}, {1, 0}} {
			b, sq := d[0], d[1]
			q := heads(e, e.upload(nil, b, 2, sq, 8))
			k := heads(e, e.upload(e.uniform(b*2*5*8, -1, 1), b, 2, 5, 8))
			out := heads(e, e.upload(nil, b, 2, sq, 4))
			v := heads(e, e.upload(e.uniform(b*2*5*4, -1, 1), b, 2, 5, 4))
			opt := backend.AttentionOptions{Causal: backend.CausalBottomRight}
			e.must("Attention", e.b.Attention(out, q, k, v, opt))
			e.must("Scores", e.b.Scores(e.upload(nil, b, 2, sq, 5), q, k, 0))
			w := e.upload(nil, b, 2, sq, 5)
			e.must("Softmax", e.b.Softmax(w, w, opt))
			e.must("AttendValues", e.b.AttendValues(out, w, v))
		}
	})
	t.Run("Attention/sk=0", func(t tester) {
		// No key at all: every row is fully masked and gives zeros.
		e := s.env(t)
		q := heads(e, e.input("q", e.uniform(2*3*8, -1, 1), 1, 2, 3, 8))
		k := heads(e, e.upload(nil, 1, 2, 0, 8))
		v := heads(e, e.upload(nil, 1, 2, 0, 4))
		out := e.nanHeads(1, 2, 3, 4)
		e.must("Attention", e.b.Attention(out, q, k, v, backend.AttentionOptions{}))
		if i := firstBitDiff(e.download(out.T), make([]float32, 24)); i >= 0 {
			t.Errorf("Attention with no keys: element %d is not 0", i)
		}
		scores := e.upload(nil, 1, 2, 3, 0)
		e.must("Scores", e.b.Scores(scores, q, k, 0))
		e.must("Softmax", e.b.Softmax(scores, scores, backend.AttentionOptions{}))
		out2 := e.nanHeads(1, 2, 3, 4)
		e.must("AttendValues", e.b.AttendValues(out2, scores, v))
		if i := firstBitDiff(e.download(out2.T), make([]float32, 24)); i >= 0 {
			t.Errorf("AttendValues with no keys: element %d is not 0", i)
		}
		e.checkInputs()
	})
	t.Run("rows=0", func(t tester) {
		e := s.env(t)
		x := e.upload(nil, 0, 8)
		e.must("LayerNorm", e.b.LayerNorm(e.upload(nil, 0, 8), x, backend.LayerNormOptions{}))
		w := backend.FFNWeights{W1: e.upload(e.uniform(32, -1, 1), 4, 8), W2: e.upload(e.uniform(32, -1, 1), 8, 4)}
		e.must("FeedForward", e.b.FeedForward(e.upload(nil, 0, 8), x, w, backend.FFNOptions{Activation: backend.GELU}))
		e.must("PositionalEncoding", e.b.PositionalEncoding(e.upload(nil, 0, 8), nil, backend.PositionalOptions{}))
		y := e.upload(nil, 2, 0, 8)
		e.must("PositionalEncoding", e.b.PositionalEncoding(e.upload(nil, 2, 0, 8), y, backend.PositionalOptions{Start: 3}))
	})
}

// foreignTensor is a Tensor no backend made.
type foreignTensor struct{ shape backend.Shape }

func (f foreignTensor) Shape() backend.Shape { return f.shape }
func (foreignTensor) DType() backend.DType   { return backend.Float32 }
func (foreignTensor) Release() error         { return nil }

func (s *suite) testErrors(t tester) {
	// cur is the env of the running subtest: the tensors a case makes belong to it.
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
	released := func(shape ...int) backend.Tensor {
		x := zeros(shape...)
		cur.must("Release", x.Release())
		return x
	}
	m := backend.MatOf
	q, k, v, out := heads(1, 2, 5, 8), heads(1, 2, 6, 8), heads(1, 2, 6, 4), heads(1, 2, 5, 4)
	x48 := zeros(4, 8)
	ffn := backend.FFNWeights{W1: zeros(16, 8), W2: zeros(8, 16)}
	shortView := backend.Mat{T: zeros(3, 4), Batch: 1, Rows: 4, Cols: 4, RowStride: 4}
	releasedV, err := backend.HeadsOf(released(1, 2, 6, 4))
	e.must("HeadsOf", err)

	cases := []struct {
		name string
		call func() error
		want error
		says []string // substrings of the message: the shapes involved
	}{
		{"Gemm/inner", func() error { return e.b.Gemm(m(zeros(3, 6)), m(zeros(3, 4)), m(zeros(5, 6)), backend.GemmOptions{}) },
			backend.ErrShape, []string{"op(a) is 3x4", "op(b) is 5x6"}},
		{"Gemm/dst", func() error {
			return e.b.Gemm(m(zeros(3, 7)), m(zeros(4, 3)), m(zeros(6, 4)), backend.GemmOptions{TransA: true, TransB: true})
		}, backend.ErrShape, []string{"dst is 3x7"}},
		{"Gemm/bias", func() error {
			return e.b.Gemm(m(zeros(3, 6)), m(zeros(3, 4)), m(zeros(4, 6)), backend.GemmOptions{Bias: zeros(7)})
		}, backend.ErrShape, []string{"bias is [7]"}},
		{"Gemm/view", func() error { return e.b.Gemm(m(zeros(4, 6)), shortView, m(zeros(4, 6)), backend.GemmOptions{}) },
			backend.ErrShape, []string{"[3 4]"}},
		{"Gemm/activation", func() error {
			return e.b.Gemm(m(zeros(3, 6)), m(zeros(3, 4)), m(zeros(4, 6)), backend.GemmOptions{Activation: 7})
		}, backend.ErrArgument, nil},
		{"Attention/dims", func() error { return e.b.Attention(out, q, heads(1, 2, 6, 7), v, backend.AttentionOptions{}) },
			backend.ErrShape, []string{"[1 2 5 8]", "[1 2 6 7]"}},
		{"Attention/mask", func() error {
			return e.b.Attention(out, q, k, v, backend.AttentionOptions{Mask: zeros(3, 4)})
		}, backend.ErrShape, []string{"mask is [3 4]"}},
		{"Attention/key-padding", func() error {
			return e.b.Attention(out, q, k, v, backend.AttentionOptions{KeyPadding: zeros(2, 6)})
		}, backend.ErrShape, []string{"key padding mask is [2 6]"}},
		{"Attention/causal-mode", func() error {
			return e.b.Attention(out, q, k, v, backend.AttentionOptions{Causal: 9})
		}, backend.ErrArgument, nil},
		{"Scores/dst", func() error { return e.b.Scores(zeros(1, 2, 5, 5), q, k, 0) },
			backend.ErrShape, []string{"dst is [1 2 5 5]"}},
		{"Softmax/rank", func() error { return e.b.Softmax(zeros(2, 5, 6), zeros(2, 5, 6), backend.AttentionOptions{}) },
			backend.ErrShape, []string{"scores is [2 5 6]"}},
		{"Softmax/mask", func() error {
			return e.b.Softmax(zeros(1, 2, 5, 6), zeros(1, 2, 5, 6), backend.AttentionOptions{Mask: zeros(2, 2, 5, 6)})
		}, backend.ErrShape, []string{"mask is [2 2 5 6]"}},
		{"AttendValues/weights", func() error { return e.b.AttendValues(out, zeros(1, 2, 5, 7), v) },
			backend.ErrShape, []string{"weights is [1 2 5 7]"}},
		{"LayerNorm/gamma", func() error {
			return e.b.LayerNorm(zeros(4, 8), x48, backend.LayerNormOptions{Gamma: zeros(5)})
		}, backend.ErrShape, []string{"gamma is [5]"}},
		{"LayerNorm/dst", func() error { return e.b.LayerNorm(zeros(4, 7), x48, backend.LayerNormOptions{}) },
			backend.ErrShape, []string{"dst is [4 7]", "[4 8]"}},
		{"LayerNorm/eps", func() error { return e.b.LayerNorm(zeros(4, 8), x48, backend.LayerNormOptions{Eps: -1}) },
			backend.ErrArgument, nil},
		{"Gemm/norm-residual", func() error {
			r := m(zeros(3, 6))
			return e.b.Gemm(m(zeros(3, 6)), m(zeros(3, 4)), m(zeros(4, 6)), backend.GemmOptions{Norm: &backend.LayerNormOptions{Residual: r.T}})
		}, backend.ErrArgument, []string{"Norm has a residual"}},
		{"Gemm/norm-gamma", func() error {
			return e.b.Gemm(m(zeros(3, 6)), m(zeros(3, 4)), m(zeros(4, 6)), backend.GemmOptions{Norm: &backend.LayerNormOptions{Gamma: zeros(5)}})
		}, backend.ErrShape, []string{"Norm", "gamma is [5]"}},
		{"Gemm/norm-view", func() error {
			dst := backend.Mat{T: zeros(3, 8), Batch: 1, Rows: 3, Cols: 6, RowStride: 8}
			return e.b.Gemm(dst, m(zeros(3, 4)), m(zeros(4, 6)), backend.GemmOptions{Norm: &backend.LayerNormOptions{}})
		}, backend.ErrArgument, []string{"Norm needs dst to be the rows of its whole tensor [3 8]"}},
		{"FeedForward/norm-beta", func() error {
			return e.b.FeedForward(zeros(4, 8), x48, ffn, backend.FFNOptions{Norm: &backend.LayerNormOptions{Beta: zeros(8, 1)}})
		}, backend.ErrShape, []string{"beta is [8 1]"}},
		{"FeedForward/W1", func() error {
			return e.b.FeedForward(zeros(4, 8), x48, backend.FFNWeights{W1: zeros(16, 7), W2: zeros(8, 16)}, backend.FFNOptions{})
		}, backend.ErrShape, []string{"W1 is [16 7]"}},
		{"FeedForward/residual", func() error {
			return e.b.FeedForward(zeros(4, 8), x48, ffn, backend.FFNOptions{Residual: zeros(8, 4)})
		}, backend.ErrShape, []string{"residual is [8 4]"}},
		{"PositionalEncoding/rank", func() error { return e.b.PositionalEncoding(zeros(8), nil, backend.PositionalOptions{}) },
			backend.ErrShape, []string{"dst is [8]"}},
		{"PositionalEncoding/x", func() error { return e.b.PositionalEncoding(x48, zeros(3, 8), backend.PositionalOptions{}) },
			backend.ErrShape, []string{"x is [3 8]"}},
		{"Upload/length", func() error {
			x, err := e.b.Upload(make([]float32, 5), 2, 3)
			if err == nil {
				x.Release()
			}
			return err
		}, backend.ErrShape, nil},
		{"Download/length", func() error { return e.b.Download(make([]float32, 5), zeros(2, 3)) }, backend.ErrShape, nil},
		{"Alloc/negative", func() error {
			x, err := e.b.Alloc(-1, 3)
			if err == nil {
				x.Release()
			}
			return err
		}, backend.ErrShape, nil},
		{"Released/Write", func() error { return e.b.Write(released(2, 3), make([]float32, 6)) }, backend.ErrReleased, nil},
		{"Foreign/Write", func() error { return e.b.Write(foreignTensor{backend.Shape{2, 3}}, make([]float32, 6)) },
			backend.ErrForeignTensor, nil},
		{"Released/Download", func() error { return e.b.Download(make([]float32, 6), released(2, 3)) }, backend.ErrReleased, nil},
		{"Released/Gemm", func() error {
			return e.b.Gemm(m(zeros(3, 6)), m(released(3, 4)), m(zeros(4, 6)), backend.GemmOptions{})
		},
			backend.ErrReleased, nil},
		{"Released/Attention", func() error { return e.b.Attention(out, q, k, releasedV, backend.AttentionOptions{}) },
			backend.ErrReleased, nil},
		{"Released/LayerNorm", func() error { return e.b.LayerNorm(zeros(4, 8), released(4, 8), backend.LayerNormOptions{}) },
			backend.ErrReleased, nil},
		{"Released/FeedForward", func() error {
			return e.b.FeedForward(zeros(4, 8), x48, backend.FFNWeights{W1: zeros(16, 8), W2: released(8, 16)}, backend.FFNOptions{})
		}, backend.ErrReleased, nil},
		{"Foreign/Gemm", func() error {
			return e.b.Gemm(m(zeros(3, 6)), m(foreignTensor{backend.Shape{3, 4}}), m(zeros(4, 6)), backend.GemmOptions{})
		}, backend.ErrForeignTensor, nil},
		{"Foreign/Gemm-norm", func() error {
			return e.b.Gemm(m(zeros(3, 6)), m(zeros(3, 4)), m(zeros(4, 6)),
				backend.GemmOptions{Norm: &backend.LayerNormOptions{Gamma: foreignTensor{backend.Shape{6}}}})
		}, backend.ErrForeignTensor, nil},
		{"Foreign/Download", func() error { return e.b.Download(make([]float32, 6), foreignTensor{backend.Shape{2, 3}}) },
			backend.ErrForeignTensor, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t tester) {
			cur = s.env(t)
			err := c.call()
			if !errors.Is(err, c.want) {
				t.Fatalf("got error %v, want one wrapping %v", err, c.want)
			}
			for _, sub := range c.says {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not mention %q", err, sub)
				}
			}
		})
	}
}
