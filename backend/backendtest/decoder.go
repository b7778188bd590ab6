package backendtest

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
)

// Conformance cases of the decoder-only operations: RMSNorm, Rotary, GatedFeedForward.

type rmsNormCase struct {
	shape       []int
	weight      bool
	residual    bool
	residualOut bool
	inPlace     bool // dst = x and ResidualOut = Residual (a pre-norm block's stream update)
	eps         float32
	short       bool
}

func (c rmsNormCase) name() string {
	s := "x=" + shapeName(c.shape)
	for _, f := range []struct {
		on   bool
		name string
	}{{c.weight, "weight"}, {c.residual, "residual"}, {c.residualOut, "residual-out"}, {c.inPlace, "in-place"}} {
		if f.on {
			s += "," + f.name
		}
	}
	if c.eps != 0 {
		s += fmt.Sprintf(",eps=%g", c.eps)
	}
	return s
}

var rmsNormCases = []rmsNormCase{
	{shape: []int{1, 1}, weight: true, short: true},
	{shape: []int{7, 3}, short: true},
	{shape: []int{2, 7, 59}, weight: true, residual: true, residualOut: true, short: true},
	{shape: []int{65, 64}, weight: true, residual: true},
	{shape: []int{3, 128}, weight: true, eps: 1e-5},
	{shape: []int{4, 1024}, weight: true, residual: true, residualOut: true, short: true},
	{shape: []int{9, 257}, weight: true, residualOut: true},
	{shape: []int{5, 96}, weight: true, residual: true, residualOut: true, inPlace: true, short: true},
	{shape: []int{0, 16}, weight: true, residual: true, residualOut: true, short: true},
}

func (s *suite) testRMSNorm(t tester) {
	for _, c := range rmsNormCases {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) {
			e := s.env(t)
			n := backend.Shape(c.shape).Numel()
			d := c.shape[len(c.shape)-1]
			x := e.uniform(n, -2, 2)
			opt := backend.RMSNormOptions{Eps: c.eps}
			var weight, res []float32
			if c.weight {
				weight = e.uniform(d, 0.5, 1.5)
				opt.Weight = e.input("weight", weight, d)
			}
			if c.residual {
				res = e.uniform(n, -3, 3)
			}
			ref, naive, y := oracle.RMSNorm(x, res, weight, d, opt.EffectiveEps())
			if c.inPlace {
				xt := e.upload(x, c.shape...)
				opt.Residual = e.upload(res, c.shape...)
				opt.ResidualOut = opt.Residual
				e.must("RMSNorm", e.b.RMSNorm(xt, xt, opt))
				e.checkRows("RMSNorm in place", e.download(xt), ref, naive, d)
				e.checkSame("RMSNorm residual out (in place)", e.download(opt.Residual), y)
				e.checkInputs()
				return
			}
			xt := e.input("x", x, c.shape...)
			if c.residual {
				opt.Residual = e.input("residual", res, c.shape...)
			}
			var outs [2][]float32
			for i := range outs {
				dst := e.nanOutput(c.shape...)
				if c.residualOut {
					opt.ResidualOut = e.nanOutput(c.shape...)
				}
				e.must("RMSNorm", e.b.RMSNorm(dst, xt, opt))
				outs[i] = e.download(dst)
				if c.residualOut {
					e.checkSame("RMSNorm residual out", e.download(opt.ResidualOut), y)
				}
			}
			e.checkSame("RMSNorm", outs[0], outs[1])
			e.checkRows("RMSNorm", outs[0], ref, naive, d)
			e.checkInputs()
		})
	}
}

type rotaryCase struct {
	b, h, s, d int
	opt        backend.RotaryOptions
	// positions: "" (Offset + s), "left-pad" (a [B, S] tensor: each row b
	// starts b positions late, padding at position 1 as Hugging Face),
	// "long" (a [B, S] tensor of positions near 131071).
	positions string
	// table: "" (theta's frequencies) or a RopeScaling of rotaryTables, whose
	// frequencies the case passes as opt.InvFreq.
	table   string
	packed  bool // x is a PackedHeads view of [B, S, H*D + 3] (the model's layout)
	inPlace bool
	short   bool
}

func (c rotaryCase) name() string {
	s := fmt.Sprintf("x=%dx%dx%dx%d,%v,theta=%g", c.b, c.h, c.s, c.d, c.opt.Style, c.opt.EffectiveTheta())
	if c.table != "" {
		s = fmt.Sprintf("x=%dx%dx%dx%d,%v,table=%s", c.b, c.h, c.s, c.d, c.opt.Style, c.table)
	}
	if c.opt.RotaryDim != 0 {
		s += fmt.Sprintf(",rot=%d", c.opt.RotaryDim)
	}
	if c.opt.Offset != 0 {
		s += fmt.Sprintf(",offset=%d", c.opt.Offset)
	}
	if c.positions != "" {
		s += ",positions=" + c.positions
	}
	if c.packed {
		s += ",packed"
	}
	if c.inPlace {
		s += ",in-place"
	}
	return s
}

// rotaryTables are the scaled frequency tables of the Rotary cases: Llama
// 3.1's own (its bands split at wavelengths 2048 and 8192), one that splits
// at wavelengths 16 and 64 (kept, blended and divided pairs in a head of 16),
// and a linear one.
var rotaryTables = map[string]struct {
	theta   float64
	scaling backend.RopeScaling
}{
	"llama3.1":     {500000, backend.RopeScaling{Type: backend.RopeLlama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}},
	"llama3-small": {10000, backend.RopeScaling{Type: backend.RopeLlama3, Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 64}},
	"linear":       {10000, backend.RopeScaling{Type: backend.RopeLinear, Factor: 4}},
}

var rotaryCases = []rotaryCase{
	{b: 1, h: 1, s: 1, d: 2, short: true},
	{b: 2, h: 3, s: 7, d: 64, short: true},
	{b: 2, h: 3, s: 7, d: 64, opt: backend.RotaryOptions{Style: backend.RotaryGPTJ}, short: true},
	{b: 1, h: 4, s: 9, d: 64, opt: backend.RotaryOptions{Style: backend.RotaryGPTJ, RotaryDim: 32}, short: true},
	{b: 2, h: 2, s: 5, d: 59, opt: backend.RotaryOptions{RotaryDim: 58, Theta: 500000}},
	{b: 2, h: 2, s: 5, d: 24, opt: backend.RotaryOptions{RotaryDim: 8, Theta: 1e6}, packed: true},
	{b: 3, h: 2, s: 6, d: 32, positions: "left-pad", packed: true, short: true},
	{b: 2, h: 4, s: 3, d: 128, opt: backend.RotaryOptions{Offset: 100}, inPlace: true, packed: true, short: true},
	// The last position is 131071 (128k - 1): float32 angles are 0.008 rad off there.
	{b: 1, h: 2, s: 8, d: 64, opt: backend.RotaryOptions{Offset: 131064, Theta: 500000}, short: true},
	{b: 2, h: 2, s: 4, d: 128, opt: backend.RotaryOptions{Style: backend.RotaryGPTJ}, positions: "long", short: true},
	{b: 2, h: 0, s: 4, d: 8, short: true},
	// Frequency tables (opt.InvFreq): scaled, at positions up to 131071, partial
	// rotary dims, both styles, packed and in place.
	{b: 1, h: 2, s: 8, d: 64, opt: backend.RotaryOptions{Offset: 131064}, table: "llama3.1", short: true},
	{b: 2, h: 2, s: 4, d: 128, opt: backend.RotaryOptions{Style: backend.RotaryGPTJ}, table: "llama3.1", positions: "long", short: true},
	{b: 3, h: 2, s: 6, d: 48, opt: backend.RotaryOptions{RotaryDim: 32}, table: "llama3-small", positions: "left-pad", packed: true, short: true},
	{b: 2, h: 3, s: 40, d: 24, opt: backend.RotaryOptions{Style: backend.RotaryGPTJ, RotaryDim: 16}, table: "llama3-small"},
	{b: 2, h: 4, s: 3, d: 64, opt: backend.RotaryOptions{Offset: 70000}, table: "linear", inPlace: true, packed: true, short: true},
}

func (s *suite) testRotary(t tester) {
	for _, c := range rotaryCases {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) {
			e := s.env(t)
			n := c.b * c.h * c.s * c.d
			x := e.uniform(n, -2, 2)
			opt := c.opt
			if c.table != "" {
				t := rotaryTables[c.table]
				r := cmp.Or(opt.RotaryDim, c.d)
				opt.InvFreq = t.scaling.InverseFrequencies(t.theta, r)
			}
			pos := make([]int, c.b*c.s)
			for i := range pos {
				pos[i] = opt.Offset + i%c.s
			}
			switch c.positions {
			case "left-pad":
				for bi := range c.b {
					for si := range c.s {
						pos[bi*c.s+si] = max(si-bi, 0)
						if si < bi {
							pos[bi*c.s+si] = 1
						}
					}
				}
			case "long":
				for i := range pos {
					pos[i] = 131071 - e.rng.IntN(4096)
				}
			}
			if c.positions != "" {
				p := make([]float32, len(pos))
				for i, v := range pos {
					p[i] = float32(v)
				}
				opt.Positions = e.input("positions", p, c.b, c.s)
			}
			ref, naive := oracle.Rotary(x, c.b, c.h, c.s, c.d, pos, opt)
			// The heads of x, in a [B, S, H*D + 3] tensor when packed (3 more
			// columns of NaN that the op must not touch).
			view := func(data []float32, input bool) (backend.Heads, backend.Tensor) {
				var t backend.Tensor
				var h backend.Heads
				var err error
				if !c.packed {
					if input {
						t = e.input("x", data, c.b, c.h, c.s, c.d)
					} else {
						t = e.upload(data, c.b, c.h, c.s, c.d)
					}
					h, err = backend.HeadsOf(t)
					e.must("HeadsOf", err)
					return h, t
				}
				width := c.h*c.d + 3
				buf := filled(c.b*c.s*width, nan32)
				for bi := range c.b {
					for hi := range c.h {
						for si := range c.s {
							copy(buf[(bi*c.s+si)*width+hi*c.d:][:c.d], data[((bi*c.h+hi)*c.s+si)*c.d:][:c.d])
						}
					}
				}
				if input {
					t = e.input("x", buf, c.b, c.s, width)
				} else {
					t = e.upload(buf, c.b, c.s, width)
				}
				h, err = backend.PackedHeads(t, c.h, c.d, 0)
				e.must("PackedHeads", err)
				return h, t
			}
			// unpack reads the heads of a downloaded view back as [B, H, S, D].
			unpack := func(h backend.Heads, got []float32) []float32 {
				out := make([]float32, n)
				for bi := range c.b {
					for hi := range c.h {
						for si := range c.s {
							copy(out[((bi*c.h+hi)*c.s+si)*c.d:][:c.d], got[h.Offset+bi*h.BatchStride+hi*h.HeadStride+si*h.SeqStride:][:c.d])
						}
					}
				}
				return out
			}
			if c.inPlace {
				h, t := view(x, false)
				e.must("Rotary", e.b.Rotary(h, h, opt))
				got := e.download(t)
				e.checkRows("Rotary in place", unpack(h, got), ref, naive, c.d)
				e.checkInputs()
				return
			}
			xh, _ := view(x, true)
			out := e.repeatable("Rotary", func() []float32 {
				dh, dt := view(filled(n, nan32), false)
				e.must("Rotary", e.b.Rotary(dh, xh, opt))
				return unpack(dh, e.download(dt))
			})
			e.checkRows("Rotary", out, ref, naive, c.d)
			e.checkInputs()
		})
	}
}

type gatedFFNCase struct {
	shape    []int
	dff      int
	act      backend.Activation
	residual bool
	inPlace  bool // dst = x
	short    bool
}

func (c gatedFFNCase) name() string {
	s := fmt.Sprintf("x=%s,dff=%d,act=%v", shapeName(c.shape), c.dff, c.act)
	if c.residual {
		s += ",residual"
	}
	if c.inPlace {
		s += ",in-place"
	}
	return s
}

var gatedFFNCases = []gatedFFNCase{
	{shape: []int{1, 128}, dff: 80, act: backend.SiLU, residual: true, short: true},
	{shape: []int{2, 7, 24}, dff: 59, act: backend.SiLU, short: true},
	{shape: []int{65, 64}, dff: 256, act: backend.SiLU, residual: true},
	{shape: []int{3, 8}, dff: 32, act: backend.GELU, short: true},
	{shape: []int{5, 59}, dff: 8, act: backend.Identity, residual: true, short: true},
	{shape: []int{9, 33}, dff: 17, act: backend.SiLU, residual: true, short: true},
	{shape: []int{8, 31}, dff: 65, act: backend.SiLU, residual: true},
	{shape: []int{2, 1, 256}, dff: 512, act: backend.SiLU, residual: true, inPlace: true, short: true},
	{shape: []int{12, 40}, dff: 96, act: backend.SiLU, inPlace: true},
	{shape: []int{3, 1030}, dff: 24, act: backend.SiLU, residual: true, short: true},
	{shape: []int{1, 40}, dff: 1100, act: backend.SiLU, short: true},
	{shape: []int{4, 16}, dff: 0, act: backend.SiLU, residual: true, short: true},
	{shape: []int{0, 16}, dff: 8, act: backend.SiLU, residual: true, short: true},
}

func (s *suite) testGatedFeedForward(t tester) {
	for _, c := range gatedFFNCases {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) {
			e := s.env(t)
			n := backend.Shape(c.shape).Numel()
			dm := c.shape[len(c.shape)-1]
			x := e.uniform(n, -1, 1)
			gate := e.uniform(c.dff*dm, -0.5, 0.5)
			up := e.uniform(c.dff*dm, -0.5, 0.5)
			down := e.uniform(dm*c.dff, -0.5, 0.5)
			w := backend.GatedFFNWeights{Gate: e.input("Gate", gate, c.dff, dm), Up: e.input("Up", up, c.dff, dm),
				Down: e.input("Down", down, dm, c.dff)}
			opt := backend.FFNOptions{Activation: c.act}
			var res []float32
			if c.residual {
				res = e.uniform(n, -1, 1)
				opt.Residual = e.input("residual", res, c.shape...)
			}
			ref, naive := oracle.GatedFeedForward(x, gate, up, down, res, dm, c.dff, c.act)
			if c.inPlace {
				xt := e.upload(x, c.shape...)
				e.must("GatedFeedForward", e.b.GatedFeedForward(xt, xt, w, opt))
				e.checkRows("GatedFeedForward in place", e.download(xt), ref, naive, dm)
				e.checkInputs()
				return
			}
			xt := e.input("x", x, c.shape...)
			out := e.repeatable("GatedFeedForward", func() []float32 {
				dst := e.nanOutput(c.shape...)
				e.must("GatedFeedForward", e.b.GatedFeedForward(dst, xt, w, opt))
				return e.download(dst)
			})
			e.checkRows("GatedFeedForward", out, ref, naive, dm)
			e.checkInputs()
		})
	}
}

// testDecoderErrors checks that bad calls of the decoder operations fail with
// the right sentinel and a message naming the operation, writing nothing.
func (s *suite) testDecoderErrors(t tester) {
	e := s.env(t)
	x := e.input("x", e.uniform(24, -1, 1), 4, 6)
	dst := e.input("dst", filled(24, 7), 4, 6)
	h := func(t backend.Tensor) backend.Heads {
		v, err := backend.HeadsOf(t)
		e.must("HeadsOf", err)
		return v
	}
	xh := h(e.input("heads", e.uniform(48, -1, 1), 1, 2, 4, 6))
	dh := h(e.input("heads dst", filled(48, 7), 1, 2, 4, 6))
	w := backend.GatedFFNWeights{Gate: e.input("Gate", e.uniform(48, -1, 1), 8, 6),
		Up: e.input("Up", e.uniform(48, -1, 1), 8, 6), Down: e.input("Down", e.uniform(48, -1, 1), 6, 8)}
	cases := []struct {
		name, op string
		want     error
		call     func() error
	}{
		{"RMSNorm/dst-shape", "RMSNorm", backend.ErrShape, func() error {
			return e.b.RMSNorm(e.upload(make([]float32, 24), 6, 4), x, backend.RMSNormOptions{})
		}},
		{"RMSNorm/weight-shape", "RMSNorm", backend.ErrShape, func() error {
			return e.b.RMSNorm(dst, x, backend.RMSNormOptions{Weight: e.upload(make([]float32, 4), 4)})
		}},
		{"RMSNorm/residual-out-shape", "RMSNorm", backend.ErrShape, func() error {
			return e.b.RMSNorm(dst, x, backend.RMSNormOptions{ResidualOut: e.upload(make([]float32, 6), 6)})
		}},
		{"RMSNorm/eps", "RMSNorm", backend.ErrArgument, func() error {
			return e.b.RMSNorm(dst, x, backend.RMSNormOptions{Eps: -1})
		}},
		{"Rotary/odd-dim", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{RotaryDim: 3})
		}},
		{"Rotary/dim-too-large", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{RotaryDim: 8})
		}},
		{"Rotary/style", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{Style: 7})
		}},
		{"Rotary/theta", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{Theta: -1})
		}},
		{"Rotary/offset", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{Offset: backend.MaxRotaryPosition - 2})
		}},
		{"Rotary/table-length", "Rotary", backend.ErrShape, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{RotaryDim: 4, InvFreq: []float64{1, 0.5, 0.25}})
		}},
		{"Rotary/table-nan", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{InvFreq: []float64{1, math.NaN(), 0.25}})
		}},
		{"Rotary/table-zero", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{InvFreq: []float64{1, 0.5, 0}})
		}},
		{"Rotary/table-inf", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{InvFreq: []float64{math.Inf(1), 0.5, 0.25}})
		}},
		{"Rotary/table-and-theta", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{Theta: 500000, InvFreq: []float64{1, 0.5, 0.25}})
		}},
		{"Rotary/positions-shape", "Rotary", backend.ErrShape, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{Positions: e.upload(make([]float32, 4), 4, 1)})
		}},
		{"Rotary/positions-and-offset", "Rotary", backend.ErrArgument, func() error {
			return e.b.Rotary(dh, xh, backend.RotaryOptions{Offset: 3, Positions: e.upload(make([]float32, 4), 1, 4)})
		}},
		{"Rotary/dst-dims", "Rotary", backend.ErrShape, func() error {
			d := dh
			d.Seq = 3
			return e.b.Rotary(d, xh, backend.RotaryOptions{})
		}},
		{"GatedFeedForward/up-shape", "GatedFeedForward", backend.ErrShape, func() error {
			bad := w
			bad.Up = e.upload(make([]float32, 48), 6, 8)
			return e.b.GatedFeedForward(dst, x, bad, backend.FFNOptions{Activation: backend.SiLU})
		}},
		{"GatedFeedForward/missing-down", "GatedFeedForward", backend.ErrArgument, func() error {
			bad := w
			bad.Down = nil
			return e.b.GatedFeedForward(dst, x, bad, backend.FFNOptions{Activation: backend.SiLU})
		}},
		{"GatedFeedForward/activation", "GatedFeedForward", backend.ErrArgument, func() error {
			return e.b.GatedFeedForward(dst, x, w, backend.FFNOptions{Activation: 99})
		}},
		{"GatedFeedForward/dst-is-a-weight", "GatedFeedForward", backend.ErrArgument, func() error {
			sq := backend.GatedFFNWeights{Gate: e.upload(make([]float32, 36), 6, 6), Up: e.upload(make([]float32, 36), 6, 6)}
			sq.Down = sq.Gate
			return e.b.GatedFeedForward(sq.Gate, e.upload(make([]float32, 36), 6, 6), sq, backend.FFNOptions{Activation: backend.SiLU})
		}},
		{"RMSNorm/dst-is-residual-out", "RMSNorm", backend.ErrArgument, func() error {
			out := e.upload(make([]float32, 24), 4, 6)
			return e.b.RMSNorm(out, x, backend.RMSNormOptions{ResidualOut: out})
		}},
		{"Rotary/overlapping-views", "Rotary", backend.ErrArgument, func() error {
			t := e.upload(make([]float32, 48), 1, 2, 4, 6)
			a := h(t)
			b := a
			b.Seq, b.Offset = 3, 6
			a.Seq = 3
			return e.b.Rotary(b, a, backend.RotaryOptions{})
		}},
	}
	for _, c := range cases {
		err := c.call()
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.op) {
			t.Errorf("%s: got %v, want an error wrapping %v that names %s", c.name, err, c.want, c.op)
		}
	}
	e.checkInputs()
}
