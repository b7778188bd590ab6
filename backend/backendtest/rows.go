package backendtest

import (
	"fmt"
	"math"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
)

// shapeName is "2x7x59" for subtest names (no brackets: -run takes a regexp).
func shapeName(s []int) string {
	out := ""
	for i, d := range s {
		if i > 0 {
			out += "x"
		}
		out += fmt.Sprint(d)
	}
	return out
}

type layerNormCase struct {
	shape       []int
	gamma, beta bool
	residual    bool
	eps         float32
	data        string // "" (uniform), "mean=1e4" (mean 1e4, spread 1e-3), "constant" (constant rows)
	inPlace     bool   // dst is x
	short       bool
}

func (c layerNormCase) name() string {
	s := "x=" + shapeName(c.shape)
	if c.gamma {
		s += ",gamma"
	}
	if c.beta {
		s += ",beta"
	}
	if c.residual {
		s += ",residual"
	}
	if c.eps != 0 {
		s += fmt.Sprintf(",eps=%g", c.eps)
	}
	if c.data != "" {
		s += "," + c.data
	}
	if c.inPlace {
		s += ",in-place"
	}
	return s
}

var layerNormCases = []layerNormCase{
	{shape: []int{1, 1}, gamma: true, beta: true, short: true},
	{shape: []int{7, 3}, short: true},
	{shape: []int{2, 7, 59}, gamma: true, beta: true, short: true},
	{shape: []int{65, 64}, gamma: true, residual: true},
	{shape: []int{3, 128}, beta: true, eps: 1e-3},
	{shape: []int{4, 1024}, gamma: true, beta: true, residual: true, short: true},
	{shape: []int{5, 257}, gamma: true, beta: true},
	{shape: []int{8, 64}, data: "mean=1e4", short: true},
	{shape: []int{4, 59}, gamma: true, beta: true, data: "mean=1e4"},
	{shape: []int{6, 59}, gamma: true, beta: true, data: "constant", short: true},
	{shape: []int{3, 128}, data: "constant"},
	{shape: []int{2, 3, 24}, residual: true, data: "constant"},
	{shape: []int{130, 512}, gamma: true, beta: true, residual: true, eps: 1e-6, inPlace: true, short: true},
	{shape: []int{9, 64}, residual: true, inPlace: true},
}

func (s *suite) testLayerNorm(t tester) {
	for _, c := range layerNormCases {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) {
			e := s.env(t)
			n := backend.Shape(c.shape).Numel()
			d := c.shape[len(c.shape)-1]
			var x []float32
			switch c.data {
			case "mean=1e4":
				x = e.uniform(n, 1e4-1e-3, 1e4+1e-3)
			case "constant":
				for range n / d {
					x = append(x, filled(d, e.uniform(1, -3, 3)[0])...)
				}
			default:
				x = e.uniform(n, -2, 2)
			}
			opt := backend.LayerNormOptions{Eps: c.eps}
			var gamma, beta, res []float32
			if c.gamma {
				gamma = e.uniform(d, 0.5, 1.5)
				opt.Gamma = e.input("gamma", gamma, d)
			}
			if c.beta {
				beta = e.uniform(d, -1, 1)
				opt.Beta = e.input("beta", beta, d)
			}
			if c.residual {
				res = e.uniform(n, -1, 1)
				if c.data == "constant" {
					res = nil
					for range n / d {
						res = append(res, filled(d, e.uniform(1, -3, 3)[0])...)
					}
				}
				opt.Residual = e.input("residual", res, c.shape...)
			}
			ref, naive := oracle.LayerNorm(x, res, gamma, beta, d, opt.EffectiveEps())
			out := e.repeatable("LayerNorm", func() []float32 {
				var xt, dst backend.Tensor
				if c.inPlace {
					xt = e.upload(x, c.shape...)
					dst = xt
				} else {
					xt = e.input("x", x, c.shape...)
					dst = e.nanOutput(c.shape...)
				}
				e.must("LayerNorm", e.b.LayerNorm(dst, xt, opt))
				return e.download(dst)
			})
			e.checkRows("LayerNorm", out, ref, naive, d)
			e.checkInputs()
		})
	}
}

type ffnCase struct {
	shape    []int
	dff      int
	act      backend.Activation
	b1, b2   bool
	residual bool
	inPlace  bool // dst is x, and x the residual, as an encoder layer calls it
	short    bool
}

func (c ffnCase) name() string {
	s := fmt.Sprintf("x=%s,dff=%d,act=%v", shapeName(c.shape), c.dff, c.act)
	if c.b1 {
		s += ",b1"
	}
	if c.b2 {
		s += ",b2"
	}
	if c.residual {
		s += ",residual"
	}
	if c.inPlace {
		s += ",in-place"
	}
	return s
}

var ffnCases = []ffnCase{
	{shape: []int{2, 7, 24}, dff: 59, act: backend.ReLU, b1: true, b2: true, short: true},
	{shape: []int{65, 64}, dff: 256, act: backend.GELU, b1: true, b2: true, residual: true},
	{shape: []int{3, 8}, dff: 32, act: backend.ReLU, short: true},
	{shape: []int{1, 128}, dff: 80, act: backend.GELU, b1: true, short: true},
	{shape: []int{5, 59}, dff: 8, act: backend.GELU, b2: true, residual: true, short: true},
	{shape: []int{2, 9, 16}, dff: 24, act: backend.Identity, b1: true, b2: true, residual: true},
	{shape: []int{3, 8}, dff: 0, act: backend.Identity, b2: true, residual: true, short: true},
	{shape: []int{2, 40, 8}, dff: 0, act: backend.Identity, b1: true, b2: true, residual: true},
	{shape: []int{7, 20}, dff: 36, act: backend.ReLU, b1: true, b2: true, inPlace: true, short: true},
	{shape: []int{90, 20}, dff: 36, act: backend.GELU, b1: true, b2: true, inPlace: true},
	{shape: []int{133, 72}, dff: 200, act: backend.GELU, b1: true, b2: true, inPlace: true},
}

func (s *suite) testFeedForward(t tester) {
	for _, c := range ffnCases {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) {
			e := s.env(t)
			n := backend.Shape(c.shape).Numel()
			dm := c.shape[len(c.shape)-1]
			x := e.uniform(n, -1, 1)
			w1 := e.uniform(c.dff*dm, -0.5, 0.5)
			w2 := e.uniform(dm*c.dff, -0.5, 0.5)
			w := backend.FFNWeights{W1: e.input("W1", w1, c.dff, dm), W2: e.input("W2", w2, dm, c.dff)}
			var b1, b2, res []float32
			if c.b1 {
				b1 = e.uniform(c.dff, -0.5, 0.5)
				w.B1 = e.input("B1", b1, c.dff)
			}
			if c.b2 {
				b2 = e.uniform(dm, -0.5, 0.5)
				w.B2 = e.input("B2", b2, dm)
			}
			opt := backend.FFNOptions{Activation: c.act}
			if c.residual {
				res = e.uniform(n, -1, 1)
				opt.Residual = e.input("residual", res, c.shape...)
			}
			if c.inPlace {
				res = x
			}
			ref, naive := oracle.FeedForward(x, w1, b1, w2, b2, res, dm, c.dff, c.act)
			out := e.repeatable("FeedForward", func() []float32 {
				var xt, dst backend.Tensor
				if c.inPlace {
					xt = e.upload(x, c.shape...)
					dst, opt.Residual = xt, xt
				} else {
					xt = e.input("x", x, c.shape...)
					dst = e.nanOutput(c.shape...)
				}
				e.must("FeedForward", e.b.FeedForward(dst, xt, w, opt))
				return e.download(dst)
			})
			e.checkRows("FeedForward", out, ref, naive, dm)
			e.checkInputs()
		})
	}
}

// Positions are small (start+seq <= ~130) but for the far ones at the end,
// where the error of a float32 angle (naive32) sets the limit.
type positionalCase struct {
	shape      []int
	add        bool // x given: dst = x*InputScale + PE
	start      int
	inputScale float32
	short      bool
}

func (c positionalCase) name() string {
	s := "generate"
	if c.add {
		s = "add"
	}
	s += fmt.Sprintf(",shape=%s,start=%d", shapeName(c.shape), c.start)
	if c.add {
		s += fmt.Sprintf(",scale=%g", c.inputScale)
	}
	return s
}

var positionalCases = []positionalCase{
	{shape: []int{17, 24}, short: true},
	{shape: []int{9, 59}, start: 12, short: true},
	{shape: []int{1, 1}},
	{shape: []int{33, 64}},
	{shape: []int{2, 17, 24}, add: true, short: true},
	{shape: []int{3, 33, 64}, add: true, start: 100, inputScale: 8, short: true},
	{shape: []int{1, 9, 59}, add: true, start: 5, inputScale: float32(math.Sqrt(59))},
	{shape: []int{4, 3}, add: true, start: 2, inputScale: 0.5},
	// Far positions: the float32 angle's error (naive32) sets the limit.
	{shape: []int{40, 10}, start: 1000},
	{shape: []int{1, 64, 512}, add: true, start: 4000, inputScale: float32(math.Sqrt(512))},
}

func (s *suite) testPositional(t tester) {
	for _, c := range positionalCases {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) {
			e := s.env(t)
			n := backend.Shape(c.shape).Numel()
			seq, d := c.shape[len(c.shape)-2], c.shape[len(c.shape)-1]
			opt := backend.PositionalOptions{Start: c.start, InputScale: c.inputScale}
			var x []float32
			var xt backend.Tensor
			if c.add {
				x = e.uniform(n, -1, 1)
				xt = e.input("x", x, c.shape...)
			}
			scale := c.inputScale
			if scale == 0 {
				scale = 1
			}
			ref, naive := oracle.Positional(x, n, seq, d, c.start, scale)
			out := e.repeatable("PositionalEncoding", func() []float32 {
				dst := e.nanOutput(c.shape...)
				e.must("PositionalEncoding", e.b.PositionalEncoding(dst, xt, opt))
				return e.download(dst)
			})
			e.checkRows("PositionalEncoding", out, ref, naive, d)
			e.checkInputs()
		})
	}
}
