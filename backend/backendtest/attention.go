package backendtest

import (
	"fmt"
	"math"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
)

type maskMode int

const (
	noMask maskMode = iota
	boolMask2D
	boolMask4D
	addMask2D
	addMask4D
	// The broadcast forms: [1 1 Sq Sk], [B 1 Sq Sk] and [1 H Sq Sk].
	boolMask11
	boolMaskB1
	boolMask1H
	addMask11
	addMaskB1
	addMask1H
)

// String is the mask's kind and rank or broadcast form: "bool2d", "additive4d",
// "boolb1" ([B 1 Sq Sk]), "additive1h" ([1 H Sq Sk]), ...
func (m maskMode) String() string {
	return [...]string{"none", "bool2d", "bool4d", "additive2d", "additive4d",
		"bool11", "boolb1", "bool1h", "additive11", "additiveb1", "additive1h"}[m]
}

// additive reports whether the mask is added to the scores (else boolean).
func (m maskMode) additive() bool {
	switch m {
	case addMask2D, addMask4D, addMask11, addMaskB1, addMask1H:
		return true
	}
	return false
}

// dims are the leading dimensions of a 4-D mask of this mode for b batches
// and h heads (ok false for none and the 2-D forms).
func (m maskMode) dims(b, h int) (mb, mh int, ok bool) {
	switch m {
	case boolMask4D, addMask4D:
		return b, h, true
	case boolMask11, addMask11:
		return 1, 1, true
	case boolMaskB1, addMaskB1:
		return b, 1, true
	case boolMask1H, addMask1H:
		return 1, h, true
	}
	return 0, 0, false
}

type padMode int

const (
	noPad padMode = iota
	// randomPad pads a quarter of the keys at random.
	randomPad
	// leadingPad pads the first 70 keys of batch 0 and the first 64 of the others,
	// so that the whole first K tile of a tiled kernel is masked.
	leadingPad
)

func (m padMode) String() string { return [...]string{"none", "random", "leading"}[m] }

// attnCase is one row of the attention shape table.
type attnCase struct {
	b, h, sq, sk, dk, dv int
	// hkv is the number of K/V heads (grouped-query attention); 0 means h.
	hkv int
	// kv is the dtype of K and V.
	kv     backend.DType
	causal backend.CausalMode
	mask   maskMode
	pad    padMode
	scale  float32 // AttentionOptions.Scale; 0 = 1/sqrt(dk)
	short  bool    // also in RunShort
}

func (c attnCase) name() string {
	s := fmt.Sprintf("b=%d,h=%d,sq=%d,sk=%d,d=%d", c.b, c.h, c.sq, c.sk, c.dk)
	if c.hkv != 0 {
		s = fmt.Sprintf("b=%d,h=%d,hkv=%d,sq=%d,sk=%d,d=%d", c.b, c.h, c.hkv, c.sq, c.sk, c.dk)
	}
	if c.dv != c.dk {
		s += fmt.Sprintf(",dv=%d", c.dv)
	}
	return s + c.options()
}

// options names the masks and scale of c, each as ",key=value".
func (c attnCase) options() string {
	s := ""
	if c.causal != backend.NotCausal {
		s += ",causal=" + c.causal.String()
	}
	if c.mask != noMask {
		s += ",mask=" + c.mask.String()
	}
	if c.pad != noPad {
		s += ",pad=" + c.pad.String()
	}
	if c.scale != 0 {
		s += fmt.Sprintf(",scale=%g", c.scale)
	}
	if c.kv != backend.Float32 {
		s += ",kv=" + c.kv.String()
	}
	return s
}

// attnCases covers seq 1, 2, 7, 63-65, 127-129, 257, Sq != Sk both ways, d_k 1 to
// 128 (odd and unaligned ones included), d_v != d_k, every mask kind and causal
// alignment, alone and combined.
var attnCases = []attnCase{
	{b: 1, h: 1, sq: 1, sk: 1, dk: 1, dv: 1, short: true},
	{b: 1, h: 2, sq: 2, sk: 2, dk: 3, dv: 3, causal: backend.CausalTopLeft, short: true},
	{b: 2, h: 3, sq: 7, sk: 7, dk: 8, dv: 8, mask: boolMask2D, short: true},
	{b: 1, h: 2, sq: 63, sk: 63, dk: 24, dv: 24, causal: backend.CausalTopLeft, pad: randomPad},
	{b: 1, h: 1, sq: 64, sk: 64, dk: 64, dv: 64, scale: 0.3},
	{b: 2, h: 3, sq: 65, sk: 129, dk: 59, dv: 40, causal: backend.CausalTopLeft, short: true},
	{b: 1, h: 2, sq: 127, sk: 128, dk: 80, dv: 80, mask: addMask4D},
	{b: 1, h: 1, sq: 128, sk: 127, dk: 128, dv: 128, causal: backend.CausalBottomRight, mask: addMask2D},
	{b: 1, h: 1, sq: 129, sk: 65, dk: 3, dv: 17, causal: backend.CausalBottomRight, short: true},
	{b: 1, h: 1, sq: 257, sk: 257, dk: 64, dv: 64, causal: backend.CausalTopLeft},
	{b: 1, h: 3, sq: 1, sk: 147, dk: 64, dv: 64, short: true},
	{b: 1, h: 3, sq: 1, sk: 147, dk: 64, dv: 64, causal: backend.CausalBottomRight, pad: randomPad},
	{b: 1, h: 2, sq: 239, sk: 1, dk: 1, dv: 8, causal: backend.CausalTopLeft, short: true},
	{b: 2, h: 4, sq: 33, sk: 70, dk: 24, dv: 24, causal: backend.CausalTopLeft, mask: boolMask4D, pad: randomPad, short: true},
	{b: 2, h: 1, sq: 20, sk: 129, dk: 8, dv: 8, mask: boolMask2D, pad: leadingPad, short: true},
	{b: 2, h: 2, sq: 65, sk: 65, dk: 128, dv: 64, causal: backend.CausalBottomRight, mask: addMask2D, pad: randomPad, scale: 0.05},
	// Head dims between the tile widths, which shrink the tiles of devices with 48 KB of local memory.
	{b: 2, h: 1, sq: 33, sk: 47, dk: 40, dv: 40, mask: boolMask4D, pad: randomPad},
	{b: 1, h: 1, sq: 50, sk: 90, dk: 72, dv: 72, mask: boolMask2D},
	{b: 1, h: 1, sq: 40, sk: 33, dk: 100, dv: 100, causal: backend.CausalBottomRight},
}

// attnProblem draws the inputs of c. Keys that no query sees get NaN rows in K
// and V: they must not leak.
func (e *env) attnProblem(c attnCase) *oracle.Attention {
	hkv := c.h
	if c.hkv != 0 {
		hkv = c.hkv
	}
	p := &oracle.Attention{B: c.b, H: c.h, Hkv: hkv, Sq: c.sq, Sk: c.sk, Dk: c.dk, Dv: c.dv, Scale: c.scale, Causal: c.causal,
		Q:      e.uniform(c.b*c.h*c.sq*c.dk, -1, 1),
		K:      roundTo(c.kv, e.uniform(c.b*hkv*c.sk*c.dk, -1, 1)),
		V:      roundTo(c.kv, e.uniform(c.b*hkv*c.sk*c.dv, -2, 2)),
		KVType: c.kv,
	}
	n := c.sq * c.sk
	if mb, mh, ok := c.mask.dims(c.b, c.h); ok {
		n *= mb * mh
		p.Mask4D, p.MaskB, p.MaskH = true, mb, mh
	}
	switch {
	case c.mask == noMask:
	case !c.mask.additive():
		p.Mask = make([]float32, n)
		for i := range p.Mask {
			if e.rng.Float32() < 0.3 {
				p.Mask[i] = 1
			}
		}
	default:
		p.MaskKind = backend.MaskAdditive
		p.Mask = e.uniform(n, -3, 1)
		for i := range p.Mask {
			if e.rng.Float32() < 0.15 {
				p.Mask[i] = float32(math.Inf(-1))
			}
		}
	}
	switch c.pad {
	case randomPad:
		p.Padding = make([]float32, c.b*c.sk)
		for i := range p.Padding {
			if e.rng.Float32() < 0.25 {
				p.Padding[i] = 1
			}
		}
	case leadingPad:
		p.Padding = make([]float32, c.b*c.sk)
		for b := range c.b {
			n := 64
			if b == 0 {
				n = 70
			}
			for j := range min(n, c.sk) {
				p.Padding[b*c.sk+j] = 1
			}
		}
	}
	poisonHidden(p)
	return p
}

// poisonHidden fills with NaN the K and V rows of the keys that no query of
// the heads reading them sees (padding keys, keys behind a boolean mask or
// causality for every query of every head of the group): a mask replaces the
// score, so none may leak.
func poisonHidden(p *oracle.Attention) {
	group := p.H / p.KVHeads()
	for b := range p.B {
		for hv := range p.KVHeads() {
			bh := b*p.KVHeads() + hv
			for j := range p.Sk {
				hidden := true
				for h := hv * group; h < (hv+1)*group && hidden; h++ {
					for i := 0; i < p.Sq && hidden; i++ {
						hidden, _ = p.Masked(b, h, i, j)
					}
				}
				if hidden && p.Sq > 0 {
					copy(p.K[(bh*p.Sk+j)*p.Dk:][:p.Dk], filled(p.Dk, nan32))
					copy(p.V[(bh*p.Sk+j)*p.Dv:][:p.Dv], filled(p.Dv, nan32))
				}
			}
		}
	}
}

// attnTensors are the uploaded inputs of an oracle.Attention.
type attnTensors struct {
	q, k, v backend.Heads
	opt     backend.AttentionOptions
}

func (e *env) uploadAttention(p *oracle.Attention) attnTensors {
	e.t.Helper()
	heads := func(name string, dtype backend.DType, data []float32, h, s, d int) backend.Heads {
		x, err := backend.HeadsOf(e.inputAs(name, dtype, data, p.B, h, s, d))
		e.must("HeadsOf", err)
		return x
	}
	a := attnTensors{
		q:   heads("q", backend.Float32, p.Q, p.H, p.Sq, p.Dk),
		k:   heads("k", p.KVType, p.K, p.KVHeads(), p.Sk, p.Dk),
		v:   heads("v", p.KVType, p.V, p.KVHeads(), p.Sk, p.Dv),
		opt: backend.AttentionOptions{Scale: p.Scale, Causal: p.Causal, MaskKind: p.MaskKind},
	}
	if p.Mask != nil {
		if p.Mask4D {
			mb, mh := p.MaskDims()
			a.opt.Mask = e.input("mask", p.Mask, mb, mh, p.Sq, p.Sk)
		} else {
			a.opt.Mask = e.input("mask", p.Mask, p.Sq, p.Sk)
		}
	}
	if p.Padding != nil {
		a.opt.KeyPadding = e.input("key padding", p.Padding, p.B, p.Sk)
	}
	return a
}

func (e *env) nanHeads(b, h, s, d int) backend.Heads {
	e.t.Helper()
	x, err := backend.HeadsOf(e.nanOutput(b, h, s, d))
	e.must("HeadsOf", err)
	return x
}

// fused runs Attention into a fresh NaN-filled output, twice, checks that both
// runs agree bitwise and returns the result.
func (e *env) fused(p *oracle.Attention, a attnTensors) []float32 {
	e.t.Helper()
	return e.repeatable("Attention", func() []float32 {
		out := e.nanHeads(p.B, p.H, p.Sq, p.Dv)
		e.must("Attention", e.b.Attention(out, a.q, a.k, a.v, a.opt))
		return e.download(out.T)
	})
}

// composed runs Scores, Softmax and AttendValues, checks each against its
// oracle (fed with the backend's own input to that step) and returns the output.
func (e *env) composed(p *oracle.Attention, a attnTensors, what string) []float32 {
	e.t.Helper()
	scores := e.nanOutput(p.B, p.H, p.Sq, p.Sk)
	e.must("Scores", e.b.Scores(scores, a.q, a.k, a.opt.Scale))
	gotS := e.download(scores)
	ref64, naive32 := p.RawScores()
	e.checkScores(what+"Scores", p, gotS, ref64, naive32)

	weights := e.nanOutput(p.B, p.H, p.Sq, p.Sk)
	e.must("Softmax", e.b.Softmax(weights, scores, a.opt))
	gotW := e.download(weights)
	refW, dead := p.Softmax64(widen(gotS))
	e.checkRows(what+"Softmax", gotW, refW, p.Softmax32(gotS), p.Sk)
	e.checkZeroRows(what+"Softmax", gotW, dead, p.Sk)
	if i := firstBitDiff(e.download(scores), gotS); i >= 0 {
		e.t.Errorf("%sSoftmax changed its input scores at element %d", what, i)
	}

	out := e.nanHeads(p.B, p.H, p.Sq, p.Dv)
	e.must("AttendValues", e.b.AttendValues(out, weights, a.v))
	got := e.download(out.T)
	e.checkScaled(what+"AttendValues", got, p.Attend64(widen(gotW)), p.Attend32(gotW), tolerance.MaxAbs(p.V))
	e.checkZeroRows(what+"AttendValues", got, dead, p.Dv)
	if i := firstBitDiff(e.download(weights), gotW); i >= 0 {
		e.t.Errorf("%sAttendValues changed its input weights at element %d", what, i)
	}
	return got
}

// checkAttention runs p fused and composed on contiguous tensors and checks
// both against the oracle, each other, and the inputs afterwards. It returns
// the fused output.
func (e *env) checkAttention(p *oracle.Attention) []float32 {
	e.t.Helper()
	a := e.uploadAttention(p)
	ref, naive, dead := p.Run()
	scale := tolerance.MaxAbs(p.V)

	got := e.fused(p, a)
	e.checkScaled("Attention", got, ref, naive, scale)
	e.checkZeroRows("Attention", got, dead, p.Dv)

	comp := e.composed(p, a, "")
	e.checkScaled("Scores->Softmax->AttendValues vs the attention oracle", comp, ref, naive, scale)
	e.checkScaled("fused Attention vs Scores->Softmax->AttendValues", got, widen(comp), nil, scale)
	e.checkInputs()
	return got
}

func (s *suite) testAttention(t tester) {
	for _, c := range attnCases {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) {
			e := s.env(t)
			e.checkAttention(e.attnProblem(c))
		})
	}
	t.Run("b=1,h=2,sq=33,sk=65,d=8,logits=1e4", func(t tester) {
		// Integer q and k with a power-of-two scale make every logit an exact
		// multiple of 256 up to +-8192: no overflow, ties stay exact ties.
		e := s.env(t)
		p := &oracle.Attention{B: 1, H: 2, Sq: 33, Sk: 65, Dk: 8, Dv: 8, Scale: 256}
		p.Q, p.K = e.integers(p.B*p.H*p.Sq*p.Dk, 2), e.integers(p.B*p.H*p.Sk*p.Dk, 2)
		p.V = e.uniform(p.B*p.H*p.Sk*p.Dv, -1, 1)
		e.checkAttention(p)
	})
	t.Run("b=1,h=2,sq=17,sk=129,d=24,logits=equal", func(t tester) {
		e := s.env(t)
		p := &oracle.Attention{B: 1, H: 2, Sq: 17, Sk: 129, Dk: 24, Dv: 24}
		p.Q, p.V = e.uniform(p.B*p.H*p.Sq*p.Dk, -1, 1), e.uniform(p.B*p.H*p.Sk*p.Dv, -1, 1)
		key := e.uniform(p.Dk, -1, 1)
		for range p.B * p.H * p.Sk {
			p.K = append(p.K, key...)
		}
		e.checkAttention(p)
	})
	t.Run("b=2,h=2,sq=9,sk=70,d=8,mask=bool4d,pad=batch1,deadrows", func(t tester) {
		// Whole rows masked by the bool mask, and every key of batch 1 padding.
		e := s.env(t)
		p := e.attnProblem(attnCase{b: 2, h: 2, sq: 9, sk: 70, dk: 8, dv: 8, mask: boolMask4D})
		for r := range p.Rows() {
			if e.rng.Float32() < 0.3 {
				copy(p.Mask[r*p.Sk:][:p.Sk], filled(p.Sk, 1))
			}
		}
		p.Padding = make([]float32, p.B*p.Sk)
		copy(p.Padding[p.Sk:], filled(p.Sk, 1))
		poisonHidden(p)
		e.checkAttention(p)
	})
	t.Run("b=1,h=3,sq=12,sk=33,d=8,mask=additive2d,deadrows", func(t tester) {
		e := s.env(t)
		p := e.attnProblem(attnCase{b: 1, h: 3, sq: 12, sk: 33, dk: 8, dv: 8, mask: addMask2D})
		for _, i := range []int{0, 5, 11} {
			copy(p.Mask[i*p.Sk:][:p.Sk], filled(p.Sk, float32(math.Inf(-1))))
		}
		e.checkAttention(p)
	})
	t.Run("b=2,h=2,sq=31,sk=80,d=16,mask=-inf-vs-1e9", func(t tester) {
		// Every row keeps an allowed key, so -1e9 and -inf must give the same result.
		e := s.env(t)
		p := e.attnProblem(attnCase{b: 2, h: 2, sq: 31, sk: 80, dk: 16, dv: 16, mask: addMask4D})
		for r := range p.Rows() {
			row := p.Mask[r*p.Sk:][:p.Sk]
			for j := range row {
				row[j] = 0
				if e.rng.Float32() < 0.6 {
					row[j] = float32(math.Inf(-1))
				}
			}
			row[e.rng.IntN(p.Sk)] = 0
		}
		withInf := e.checkAttention(p)
		big := *p
		big.Mask = make([]float32, len(p.Mask))
		for i, m := range p.Mask {
			big.Mask[i] = max(m, -1e9)
		}
		with1e9 := e.checkAttention(&big)
		e.checkScaled("mask -1e9 vs mask -inf", with1e9, widen(withInf), nil, tolerance.MaxAbs(p.V))
	})
	t.Run("permuted,b=2,h=2,sq=33,sk=77,d=24,mask=additive4d,pad=random", s.testPermutedKeys)
	t.Run("packed,b=2,s=65,h=3,d=24,causal=topleft,pad=random", s.testPackedHeads)
}

// integers returns n integers in [-m, m] as float32.
func (e *env) integers(n, m int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(e.rng.IntN(2*m+1) - m)
	}
	return x
}

// testPermutedKeys permutes the rows of K and V together with the mask and
// padding columns: the output must not change beyond the tolerance.
func (s *suite) testPermutedKeys(t tester) {
	e := s.env(t)
	c := attnCase{b: 2, h: 2, sq: 33, sk: 77, dk: 24, dv: 24, mask: addMask4D, pad: randomPad}
	p := e.attnProblem(c)
	got := e.checkAttention(p)
	ref, naive, _ := p.Run()

	perm := e.rng.Perm(p.Sk)
	q := *p
	q.K, q.V = permuteRows(p.K, perm, p.Sk, p.Dk), permuteRows(p.V, perm, p.Sk, p.Dv)
	q.Mask = permuteRows(p.Mask, perm, p.Sk, 1)
	q.Padding = permuteRows(p.Padding, perm, p.Sk, 1)
	a := e.uploadAttention(&q)
	gotPerm := e.fused(&q, a)
	e.checkScaled("Attention with permuted keys vs the unpermuted oracle", gotPerm, ref, naive, tolerance.MaxAbs(p.V))
	e.checkScaled("Attention with permuted keys vs unpermuted", gotPerm, widen(got), nil, tolerance.MaxAbs(p.V))
	e.checkInputs()
}

// permuteRows reorders x, blocks of n rows of width w each: row j of a block
// becomes row perm[j].
func permuteRows(x []float32, perm []int, n, w int) []float32 {
	y := make([]float32, len(x))
	for blk := range len(x) / (n * w) {
		for j, pj := range perm {
			copy(y[(blk*n+j)*w:][:w], x[(blk*n+pj)*w:][:w])
		}
	}
	return y
}

// testPackedHeads runs self-attention on PackedHeads views of one [B, S, 3E+2]
// tensor (2 NaN columns at the end), writing into views of a [B, S, E+3] output whose 3 extra NaN columns
// must stay untouched, and compares with contiguous copies.
func (s *suite) testPackedHeads(t tester) {
	e := s.env(t)
	const B, S, H, D = 2, 65, 3, 24
	const E, W, OW = H * D, 3*H*D + 2, H*D + 3
	p := e.attnProblem(attnCase{b: B, h: H, sq: S, sk: S, dk: D, dv: D, causal: backend.CausalTopLeft, pad: randomPad})

	// Scatter q, k, v [B H S D] into qkv [B S 3E].
	qkv := filled(B*S*W, nan32) // the last 2 columns stay NaN
	for b := range B {
		for h := range H {
			for i := range S {
				src := ((b*H+h)*S + i) * D
				dst := (b*S+i)*W + h*D
				copy(qkv[dst:][:D], p.Q[src:][:D])
				copy(qkv[dst+E:][:D], p.K[src:][:D])
				copy(qkv[dst+2*E:][:D], p.V[src:][:D])
			}
		}
	}
	packed := e.input("qkv", qkv, B, S, W)
	view := func(t backend.Tensor, off int) backend.Heads {
		h, err := backend.PackedHeads(t, H, D, off)
		e.must("PackedHeads", err)
		return h
	}
	contig := e.uploadAttention(p)
	a := attnTensors{q: view(packed, 0), k: view(packed, E), v: view(packed, 2*E), opt: contig.opt}
	ref, naive, dead := p.Run()
	scale := tolerance.MaxAbs(p.V)

	// unpack reads [B H S D] out of a [B S OW] output and checks the gap columns.
	unpack := func(what string, buf []float32) []float32 {
		out := make([]float32, B*H*S*D)
		for b := range B {
			for i := range S {
				row := buf[(b*S+i)*OW:][:OW]
				for h := range H {
					copy(out[((b*H+h)*S+i)*D:][:D], row[h*D:][:D])
				}
				if j := firstBitDiff(row[E:], filled(OW-E, nan32)); j >= 0 {
					e.t.Errorf("%s wrote outside its output view: batch %d row %d column %d", what, b, i, E+j)
				}
			}
		}
		return out
	}
	outT := e.nanOutput(B, S, OW)
	e.must("Attention", e.b.Attention(view(outT, 0), a.q, a.k, a.v, a.opt))
	got := unpack("Attention", e.download(outT))
	e.checkScaled("Attention on packed views", got, ref, naive, scale)
	e.checkZeroRows("Attention on packed views", got, dead, D)

	contigOut := e.fused(p, contig)
	e.checkScaled("Attention on packed views vs contiguous copies", got, widen(contigOut), nil, scale)

	scores := e.nanOutput(B, H, S, S)
	e.must("Scores", e.b.Scores(scores, a.q, a.k, 0))
	s64, s32 := p.RawScores()
	e.checkScores("Scores on packed views", p, e.download(scores), s64, s32)
	weights := e.nanOutput(B, H, S, S)
	e.must("Softmax", e.b.Softmax(weights, scores, a.opt))
	gotW := e.download(weights)
	outT2 := e.nanOutput(B, S, OW)
	e.must("AttendValues", e.b.AttendValues(view(outT2, 0), weights, a.v))
	gotC := unpack("AttendValues", e.download(outT2))
	e.checkScaled("AttendValues on packed views", gotC, p.Attend64(widen(gotW)), p.Attend32(gotW), scale)
	e.checkInputs()
}

func (s *suite) testScores(t tester) {
	// Views with NaN-filled gap columns on both sides of the heads, explicit scales.
	cases := []struct {
		b, h, sq, sk, d int
		scale           float32
		short           bool
	}{
		{1, 1, 1, 147, 64, 0, true},
		{2, 3, 65, 129, 59, 0.125, false},
		{1, 2, 239, 1, 1, 0, true},
		{1, 2, 64, 64, 128, -0.5, false},
		{2, 2, 7, 9, 3, 2, true},
	}
	for _, c := range cases {
		if !s.full && !c.short {
			continue
		}
		t.Run(fmt.Sprintf("b=%d,h=%d,sq=%d,sk=%d,d=%d,scale=%g,gaps", c.b, c.h, c.sq, c.sk, c.d, c.scale), func(t tester) {
			e := s.env(t)
			p := &oracle.Attention{B: c.b, H: c.h, Sq: c.sq, Sk: c.sk, Dk: c.d, Scale: c.scale,
				Q: e.uniform(c.b*c.h*c.sq*c.d, -1, 1), K: e.uniform(c.b*c.h*c.sk*c.d, -1, 1)}
			q := e.gappedHeads("q", p.Q, c.b, c.h, c.sq, c.d)
			k := e.gappedHeads("k", p.K, c.b, c.h, c.sk, c.d)
			out := e.repeatable("Scores", func() []float32 {
				dst := e.nanOutput(c.b, c.h, c.sq, c.sk)
				e.must("Scores", e.b.Scores(dst, q, k, c.scale))
				return e.download(dst)
			})
			ref, naive := p.RawScores()
			e.checkScores("Scores", p, out, ref, naive)
			e.checkInputs()
		})
	}
}

// gappedHeads uploads x [B H S D] as PackedHeads of a [B S H*D+3] tensor whose
// columns 0, 1 and the last are NaN.
func (e *env) gappedHeads(name string, x []float32, b, h, s, d int) backend.Heads {
	e.t.Helper()
	w := h*d + 3
	buf := filled(b*s*w, nan32)
	for bi := range b {
		for hi := range h {
			for i := range s {
				copy(buf[(bi*s+i)*w+2+hi*d:][:d], x[((bi*h+hi)*s+i)*d:][:d])
			}
		}
	}
	v, err := backend.PackedHeads(e.input(name, buf, b, s, w), h, d, 2)
	e.must("PackedHeads", err)
	return v
}

// hiddenScores are the scores put at masked positions: a mask replaces them, so
// none may leak.
var hiddenScores = []float32{nan32, 1e30, float32(math.Inf(1))}

func (s *suite) testSoftmax(t tester) {
	cases := []struct {
		name  string
		c     attnCase
		nan   bool    // NaN, huge and +Inf scores at masked positions
		big   float32 // scores drawn from [-big, big]
		in    bool    // in place: dst == scores
		short bool
	}{
		{name: "nan-at-masked", c: attnCase{b: 2, h: 3, sq: 7, sk: 65, mask: boolMask2D}, nan: true, big: 5, short: true},
		{name: "nan-at-masked", c: attnCase{b: 2, h: 2, sq: 33, sk: 129, mask: boolMask4D, pad: randomPad, causal: backend.CausalTopLeft}, nan: true, big: 5, short: true},
		{name: "scores=1e4", c: attnCase{b: 1, h: 2, sq: 7, sk: 65}, big: 1e4, short: true},
		{name: "in-place", c: attnCase{b: 1, h: 2, sq: 64, sk: 257, mask: addMask2D}, big: 5, in: true},
		{name: "in-place", c: attnCase{b: 1, h: 1, sq: 129, sk: 65, causal: backend.CausalBottomRight}, big: 5, in: true, short: true},
		{name: "", c: attnCase{b: 2, h: 1, sq: 20, sk: 129, pad: leadingPad, mask: addMask4D}, big: 5},
		{name: "", c: attnCase{b: 1, h: 1, sq: 1, sk: 1}, big: 5, short: true},
	}
	for _, c := range cases {
		if !s.full && !c.short {
			continue
		}
		name := fmt.Sprintf("b=%d,h=%d,sq=%d,sk=%d", c.c.b, c.c.h, c.c.sq, c.c.sk) + c.c.options()
		if c.name != "" {
			name += "," + c.name
		}
		t.Run(name, func(t tester) {
			e := s.env(t)
			c.c.dk, c.c.dv = 1, 1
			p := e.attnProblem(c.c)
			scores := e.uniform(p.Rows()*p.Sk, -c.big, c.big)
			if c.nan {
				for b := range p.B {
					for h := range p.H {
						for i := range p.Sq {
							for j := range p.Sk {
								if out, _ := p.Masked(b, h, i, j); out {
									scores[((b*p.H+h)*p.Sq+i)*p.Sk+j] = hiddenScores[j%len(hiddenScores)]
								}
							}
						}
					}
				}
			}
			a := e.uploadAttention(p)
			ref, dead := p.Softmax64(widen(scores))
			naive := p.Softmax32(scores)
			out := e.repeatable("Softmax", func() []float32 {
				var src, dst backend.Tensor
				if c.in {
					src = e.upload(scores, p.B, p.H, p.Sq, p.Sk)
					dst = src
				} else {
					src = e.input("scores", scores, p.B, p.H, p.Sq, p.Sk)
					dst = e.nanOutput(p.B, p.H, p.Sq, p.Sk)
				}
				e.must("Softmax", e.b.Softmax(dst, src, a.opt))
				return e.download(dst)
			})
			e.checkRows("Softmax", out, ref, naive, p.Sk)
			e.checkZeroRows("Softmax", out, dead, p.Sk)
			e.checkInputs()
		})
	}
}

func (s *suite) testAttendValues(t tester) {
	// Weights with exact zeros (NaN values behind them), written into views of a
	// [B S H*Dv+3] output with NaN gap columns that must stay untouched.
	cases := []struct {
		b, h, sq, sk, dv int
		short            bool
	}{
		{2, 3, 65, 129, 40, false},
		{1, 2, 1, 147, 64, true},
		{1, 1, 239, 1, 17, true},
		{1, 2, 128, 128, 128, false},
		{2, 2, 7, 9, 3, true},
	}
	for _, c := range cases {
		if !s.full && !c.short {
			continue
		}
		t.Run(fmt.Sprintf("b=%d,h=%d,sq=%d,sk=%d,dv=%d,gaps", c.b, c.h, c.sq, c.sk, c.dv), func(t tester) {
			e := s.env(t)
			p := &oracle.Attention{B: c.b, H: c.h, Sq: c.sq, Sk: c.sk, Dv: c.dv, V: e.uniform(c.b*c.h*c.sk*c.dv, -2, 2)}
			w := e.uniform(p.Rows()*p.Sk, 0, 1)
			for bh := range p.B * p.H {
				// Key 0 of every head has zero weight everywhere and NaN values.
				for i := range p.Sq {
					w[(bh*p.Sq+i)*p.Sk] = 0
				}
				copy(p.V[bh*p.Sk*p.Dv:][:p.Dv], filled(p.Dv, nan32))
			}
			for i := range w {
				if e.rng.Float32() < 0.2 {
					w[i] = 0
				}
			}
			weights := e.input("weights", w, p.B, p.H, p.Sq, p.Sk)
			v, err := backend.HeadsOf(e.input("v", p.V, p.B, p.H, p.Sk, p.Dv))
			e.must("HeadsOf", err)
			ow := p.H*p.Dv + 3
			out := e.repeatable("AttendValues", func() []float32 {
				outT := e.nanOutput(p.B, p.Sq, ow)
				out, err := backend.PackedHeads(outT, p.H, p.Dv, 1)
				e.must("PackedHeads", err)
				e.must("AttendValues", e.b.AttendValues(out, weights, v))
				buf := e.download(outT)
				got := make([]float32, p.Rows()*p.Dv)
				for b := range p.B {
					for i := range p.Sq {
						row := buf[(b*p.Sq+i)*ow:][:ow]
						for h := range p.H {
							copy(got[((b*p.H+h)*p.Sq+i)*p.Dv:][:p.Dv], row[1+h*p.Dv:][:p.Dv])
						}
						if !math.IsNaN(float64(row[0])) || !math.IsNaN(float64(row[ow-1])) || !math.IsNaN(float64(row[ow-2])) {
							e.t.Errorf("AttendValues wrote outside its output view (batch %d row %d)", b, i)
						}
					}
				}
				return got
			})
			e.checkScaled("AttendValues", out, p.Attend64(widen(w)), p.Attend32(w), tolerance.MaxAbs(p.V))
			e.checkInputs()
		})
	}
}
