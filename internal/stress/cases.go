// Package stress makes random, self-contained operations that run on any
// backend.Backend: the soak test (gpubench soak) compares a device's results
// with the pure-Go backend's, and the concurrency tests of cpuref and gpu run
// many of them from many goroutines and compare with a serial run.
//
// A Case holds its inputs as host data; Run uploads them, runs the operation,
// downloads the output and releases every tensor, so cases share nothing and
// may run on one backend from any number of goroutines.
package stress

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
)

// Ops are the operations Random makes, in a fixed order.
var Ops = []string{"gemm", "attention", "attention-unfused", "softmax", "layernorm", "ffn", "posenc"}

// Case is one operation with its inputs.
type Case struct {
	Op   string // one of Ops
	Desc string // shapes and options, for reports
	// NonFinite counts the NaN and ±Inf put into inputs and weights at
	// positions no mask hides (see gen.poison): they must propagate to the
	// same output positions on every backend.
	NonFinite int
	// RowLen is the length of the output rows that each take their own scale
	// (max|ref| of the row); 0 means one scale for the whole output, Scale.
	RowLen int
	// Scale is max|V| for attention outputs, where RowLen is 0.
	Scale float64
	// terms, where not nil, gives each output element the magnitude of the
	// terms summed into it (Gemm, FeedForward): a float32 sum is accurate only
	// relative to its terms, not to its result, which may cancel to nearly 0.
	terms func() []float64
	// orderDependent, where not nil, marks the outputs whose NaN or Inf may
	// differ between correct backends (attention: see underflowRows).
	orderDependent func() []bool
	run            func(s *session) (backend.Tensor, error)
}

// Run runs the case on b and returns its output, releasing every tensor it made.
func (c Case) Run(b backend.Backend) ([]float32, error) {
	s := &session{b: b}
	out, err := c.run(s)
	var data []float32
	if err == nil {
		data = make([]float32, out.Shape().Numel())
		err = b.Download(data, out)
	}
	if err = errors.Join(err, s.release()); err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.Op, c.Desc, err)
	}
	return data, nil
}

// session uploads and allocates tensors for one run and releases them all at the end.
// The first error sticks: later calls return nil tensors and the run reports it.
type session struct {
	b   backend.Backend
	ts  []backend.Tensor
	err error
}

func (s *session) keep(t backend.Tensor, err error) backend.Tensor {
	if err != nil {
		s.err = errors.Join(s.err, err)
		return nil
	}
	s.ts = append(s.ts, t)
	return t
}

func (s *session) upload(data []float32, shape ...int) backend.Tensor {
	if s.err != nil {
		return nil
	}
	return s.keep(s.b.Upload(data, shape...))
}

func (s *session) alloc(shape ...int) backend.Tensor {
	if s.err != nil {
		return nil
	}
	return s.keep(s.b.Alloc(shape...))
}

// maybe uploads data, or returns nil where data is nil (an absent option).
func (s *session) maybe(data []float32, shape ...int) backend.Tensor {
	if data == nil {
		return nil
	}
	return s.upload(data, shape...)
}

func (s *session) release() error {
	var errs []error
	for _, t := range s.ts {
		errs = append(errs, t.Release())
	}
	s.ts = nil
	return errors.Join(errs...)
}

// generators make one random case of each op of Ops.
var generators = map[string]func(gen) Case{
	"gemm":              gen.gemm,
	"attention":         func(g gen) Case { return g.attention(true) },
	"attention-unfused": func(g gen) Case { return g.attention(false) },
	"softmax":           gen.softmax,
	"layernorm":         gen.layerNorm,
	"ffn":               gen.ffn,
	"posenc":            gen.posenc,
}

// Random makes a random case of op (one of Ops) from rng: odd sizes, Sq != Sk,
// head dims 1..128, every mask kind, optional biases, residuals and activations.
func Random(rng *rand.Rand, op string) (Case, error) {
	generate, ok := generators[op]
	if !ok {
		return Case{}, fmt.Errorf("stress: unknown op %q (want one of %v)", op, Ops)
	}
	g := newGen(rng)
	c := generate(g)
	c.NonFinite = *g.nonFinite
	return c, nil
}

// Nth makes a random case of op Ops[i % len(Ops)], for callers that cycle
// through every op.
func Nth(rng *rand.Rand, i int) Case {
	c, _ := Random(rng, Ops[i%len(Ops)]) // a name of Ops: no error
	return c
}

// gen draws sizes and data; nonFinite counts the values poison put in.
type gen struct {
	rng       *rand.Rand
	nonFinite *int
}

// newGen is a generator drawing from rng.
func newGen(rng *rand.Rand) gen { return gen{rng: rng, nonFinite: new(int)} }

// poison puts, in one of four calls, one or two NaN, +Inf or -Inf at random
// positions of data (the soak's inputs and weights, where no mask hides them).
func (g gen) poison(data []float32) {
	if len(data) == 0 || g.rng.IntN(4) != 0 {
		return
	}
	values := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for range 1 + g.rng.IntN(2) {
		data[g.rng.IntN(len(data))] = values[g.rng.IntN(len(values))]
		*g.nonFinite++
	}
}

// size is 1..hi, biased towards small and odd sizes and powers of two (±1).
func (g gen) size(hi int) int {
	switch g.rng.IntN(4) {
	case 0:
		return 1 + g.rng.IntN(min(hi, 8))
	case 1:
		p := 1 << g.rng.IntN(bitsLen(hi))
		return max(1, min(hi, p+g.rng.IntN(3)-1))
	}
	return 1 + g.rng.IntN(hi)
}

func bitsLen(n int) int {
	b := 0
	for n > 0 {
		b++
		n >>= 1
	}
	return b
}

// finiteAbs is |x|, or 0 where x is NaN or infinite: a non-finite term either
// makes its output non-finite (compared exactly) or vanishes from it (ReLU of
// -Inf is 0), so it must not widen the limit of a finite output.
func finiteAbs(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Abs(x)
}

func (g gen) coin() bool { return g.rng.IntN(2) == 0 }

// data is n uniform values in [-s, s).
func (g gen) data(n int, s float32) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = (2*g.rng.Float32() - 1) * s
	}
	return d
}

func (g gen) activation() backend.Activation {
	return []backend.Activation{backend.Identity, backend.ReLU, backend.GELU}[g.rng.IntN(3)]
}

func (g gen) gemm() Case {
	batch, m, n, k := g.size(3), g.size(96), g.size(96), g.size(96)
	transA, transB := g.coin(), g.coin()
	alpha := []float32{0, 1, 0.5, -1.7}[g.rng.IntN(4)]
	beta := []float32{0, 0, 1, -0.5}[g.rng.IntN(4)]
	sharedB := g.rng.IntN(3) == 0 // BatchStride 0: one weight for every batch entry
	act := g.activation()
	a := g.data(batch*m*k, 1)
	bBatch := batch
	if sharedB {
		bBatch = 1
	}
	bData := g.data(bBatch*k*n, 1)
	dst := g.data(batch*m*n, 1)
	if beta == 0 {
		for i := range dst { // Beta 0 must not read dst: NaN there must not leak
			dst[i] = float32(math.NaN())
		}
	}
	var bias, residual []float32
	if g.coin() {
		bias = g.data(n, 1)
	}
	if g.coin() {
		residual = g.data(batch*m*n, 1)
	}
	g.poison(a)
	g.poison(bData)
	g.poison(bias)
	desc := fmt.Sprintf("batch=%d m=%d n=%d k=%d transA=%v transB=%v alpha=%g beta=%g sharedB=%v bias=%v act=%v residual=%v non-finite=%d",
		batch, m, n, k, transA, transB, alpha, beta, sharedB, bias != nil, act, residual != nil, *g.nonFinite)
	terms := func() []float64 {
		// |alpha| sum_k |a_ik b_kj| + |beta dst_ij| + |bias_j| + |residual_ij|
		t := make([]float64, batch*m*n)
		effAlpha := math.Abs(float64(backend.GemmOptions{Alpha: alpha}.EffectiveAlpha()))
		for bi := range batch {
			bb := bi
			if sharedB {
				bb = 0
			}
			for i := range m {
				for j := range n {
					var sum float64
					for p := range k {
						ai, bj := (bi*m+i)*k+p, (bb*k+p)*n+j
						if transA {
							ai = (bi*k+p)*m + i
						}
						if transB {
							bj = (bb*n+j)*k + p
						}
						sum += finiteAbs(float64(a[ai]) * float64(bData[bj]))
					}
					at := (bi*m+i)*n + j
					sum *= effAlpha
					if beta != 0 {
						sum += finiteAbs(float64(beta) * float64(dst[at]))
					}
					if bias != nil {
						sum += finiteAbs(float64(bias[j]))
					}
					if residual != nil {
						sum += finiteAbs(float64(residual[at]))
					}
					t[at] = sum
				}
			}
		}
		return t
	}
	return Case{Op: "gemm", Desc: desc, RowLen: n, terms: terms, run: func(s *session) (backend.Tensor, error) {
		ar, ac := m, k
		if transA {
			ar, ac = k, m
		}
		br, bc := k, n
		if transB {
			br, bc = n, k
		}
		at := s.upload(a, batch, ar, ac)
		bt := s.upload(bData, bBatch, br, bc)
		dt := s.upload(dst, batch, m, n)
		opt := backend.GemmOptions{TransA: transA, TransB: transB, Alpha: alpha, Beta: beta,
			Bias: s.maybe(bias, n), Activation: act}
		if rt := s.maybe(residual, batch, m, n); rt != nil {
			r := backend.MatOf(rt)
			opt.Residual = &r
		}
		if s.err != nil {
			return nil, s.err
		}
		bm := backend.MatOf(bt)
		if sharedB {
			bm.Batch, bm.BatchStride = batch, 0
		}
		return dt, s.b.Gemm(backend.MatOf(dt), backend.MatOf(at), bm, opt)
	}}
}

// masks are host copies of the masks of an attention case.
type masks struct {
	causal     backend.CausalMode
	mask       []float32
	maskShape  []int
	maskKind   backend.MaskKind
	keyPadding []float32 // [B, Sk], 1 = padding
}

func (m masks) String() string {
	s := fmt.Sprintf("causal=%v", m.causal)
	if m.mask != nil {
		s += fmt.Sprintf(" mask=%v%v", m.maskKind, m.maskShape)
	}
	if m.keyPadding != nil {
		s += " key-padding"
	}
	return s
}

// options uploads the masks.
func (m masks) options(s *session, b, sk int) backend.AttentionOptions {
	return backend.AttentionOptions{Causal: m.causal, MaskKind: m.maskKind,
		Mask: s.maybe(m.mask, m.maskShape...), KeyPadding: s.maybe(m.keyPadding, b, sk)}
}

// oracle is the masks of a [b, h, sq, sk] attention on the oracle's terms,
// whose Masked says which keys a mask that replaces the score hides.
func (m masks) oracle(b, h, sq, sk int) *oracle.Attention {
	return &oracle.Attention{B: b, H: h, Sq: sq, Sk: sk, Causal: m.causal,
		Mask: m.mask, Mask4D: len(m.maskShape) == 4, MaskKind: m.maskKind, Padding: m.keyPadding}
}

// masks draws every kind of mask: causal (both alignments), boolean and
// additive (with -Inf) masks shared or per head, key padding with whole
// batch entries padded now and then (all-masked rows must give zeros).
func (g gen) masks(b, h, sq, sk int) masks {
	var m masks
	m.causal = backend.CausalMode(g.rng.IntN(3))
	switch g.rng.IntN(4) {
	case 1, 2:
		m.maskShape = []int{sq, sk}
		if g.coin() {
			m.maskShape = []int{b, h, sq, sk}
		}
		n := backend.Shape(m.maskShape).Numel()
		m.mask = make([]float32, n)
		if g.coin() {
			m.maskKind = backend.MaskBool
			density := g.rng.Float64()
			for i := range m.mask {
				if g.rng.Float64() < density {
					m.mask[i] = 1
				}
			}
		} else {
			m.maskKind = backend.MaskAdditive
			for i := range m.mask {
				switch g.rng.IntN(5) {
				case 0:
					m.mask[i] = float32(math.Inf(-1))
				case 1:
					m.mask[i] = (2*g.rng.Float32() - 1) * 4
				}
			}
		}
	}
	if g.rng.IntN(3) == 0 {
		m.keyPadding = make([]float32, b*sk)
		for bi := range b {
			all := g.rng.IntN(6) == 0
			for j := range sk {
				if all || g.rng.IntN(4) == 0 {
					m.keyPadding[bi*sk+j] = 1
				}
			}
		}
	}
	return m
}

// attention draws a fused (Attention) or unfused (Scores -> Softmax ->
// AttendValues) case. Q, K, V are contiguous heads or heads packed in one
// [B, S, width] tensor (strided views); values of padded keys are NaN, which
// must not leak.
func (g gen) attention(fused bool) Case {
	b, h := g.size(2), g.size(4)
	sq, sk := g.size(70), g.size(70)
	d, dv := g.size(128), g.size(128)
	if g.coin() {
		dv = d
	}
	packed := g.coin() && sq == sk && d == dv
	m := g.masks(b, h, sq, sk)
	var scale float32
	if g.coin() {
		scale = 0.05 + g.rng.Float32()
	}
	logit := []float32{1, 3, 8}[g.rng.IntN(3)]
	q := g.data(b*h*sq*d, logit)
	k := g.data(b*h*sk*d, 1)
	v := g.data(b*h*sk*dv, 1)
	g.poison(q)
	g.poison(k)
	g.poison(v)
	maxV := 0.0
	for _, x := range v {
		maxV = math.Max(maxV, finiteAbs(float64(x)))
	}
	if m.keyPadding != nil { // [B, H, Sk, Dv] layout; packed views reorder below
		for bi := range b {
			for j := range sk {
				if m.keyPadding[bi*sk+j] == 0 {
					continue
				}
				for hi := range h {
					for x := range dv {
						v[((bi*h+hi)*sk+j)*dv+x] = float32(math.NaN())
					}
				}
			}
		}
	}
	op := "attention"
	if !fused {
		op = "attention-unfused"
	}
	desc := fmt.Sprintf("B=%d H=%d Sq=%d Sk=%d D=%d Dv=%d packed=%v scale=%g logits=%g %v non-finite=%d", b, h, sq, sk, d, dv, packed, scale, logit, m, *g.nonFinite)
	orderDependent := func() []bool {
		p := m.oracle(b, h, sq, sk)
		p.Dk, p.Dv, p.Q, p.K, p.V, p.Scale = d, dv, q, k, v, scale
		return underflowRows(p)
	}
	return Case{Op: op, Desc: desc, Scale: maxV, orderDependent: orderDependent, run: func(s *session) (backend.Tensor, error) {
		var qh, kh, vh backend.Heads
		var err error
		if packed {
			qh, kh, vh, err = packedQKV(s, q, k, v, b, h, sq, d)
		} else {
			qh, err = contiguous(s, q, b, h, sq, d)
			if err == nil {
				kh, err = contiguous(s, k, b, h, sk, d)
			}
			if err == nil {
				vh, err = contiguous(s, v, b, h, sk, dv)
			}
		}
		if err != nil {
			return nil, err
		}
		opt := m.options(s, b, sk)
		opt.Scale = scale
		out := s.alloc(b, h, sq, dv)
		if s.err != nil {
			return nil, s.err
		}
		oh, err := backend.HeadsOf(out)
		if err != nil {
			return nil, err
		}
		if fused {
			return out, s.b.Attention(oh, qh, kh, vh, opt)
		}
		w := s.alloc(b, h, sq, sk)
		if s.err != nil {
			return nil, s.err
		}
		if err := s.b.Scores(w, qh, kh, opt.EffectiveScale(d)); err != nil {
			return nil, err
		}
		if err := s.b.Softmax(w, w, opt); err != nil {
			return nil, err
		}
		return out, s.b.AttendValues(oh, w, vh)
	}}
}

// underflowLimit is how far below its row's maximum a score may lie before
// its softmax weight underflows float32 in some order of computation: e^-96 is
// 2^-138.5, near the subnormals' end (2^-149) and below where a float32 score's
// rounding could carry it.
const underflowLimit = -96

// underflowRows marks the outputs [B, H, Sq, Dv] of p whose query sees a key
// with a NaN or Inf value and a score more than -underflowLimit below the
// row's maximum. Whether such a value reaches the output depends on the order
// of the computation, not on its correctness: a two-pass softmax gives it the
// weight 0, which skips it (as AttendValues skips every zero weight); an online
// one (flash attention) gives it a weight against the maximum seen so far,
// nonzero where the maximum comes later, and NaN or Inf times the rescaling
// stays NaN or Inf. Every other NaN and Inf must match exactly.
func underflowRows(p *oracle.Attention) []bool {
	raw, _ := p.RawScores()
	out := make([]bool, p.Rows()*p.Dv)
	for b := range p.B {
		for h := range p.H {
			bh := b*p.H + h
			for i := range p.Sq {
				r := bh*p.Sq + i
				mx, scores := math.Inf(-1), make([]float64, p.Sk)
				for j := range p.Sk {
					masked, add := p.Masked(b, h, i, j)
					scores[j] = math.Inf(-1)
					if !masked {
						scores[j] = raw[r*p.Sk+j] + float64(add)
					}
					if !math.IsNaN(scores[j]) {
						mx = math.Max(mx, scores[j])
					}
				}
				for j, s := range scores {
					if math.IsInf(s, -1) || !(s-mx < underflowLimit) || !nonFiniteRow(p.V[(bh*p.Sk+j)*p.Dv:][:p.Dv]) {
						continue
					}
					for x := range p.Dv {
						out[r*p.Dv+x] = true
					}
				}
			}
		}
	}
	return out
}

func nonFiniteRow(v []float32) bool {
	for _, x := range v {
		if !finite(float64(x)) {
			return true
		}
	}
	return false
}

// contiguous uploads data as [b, h, s, d] heads.
func contiguous(s *session, data []float32, b, h, seq, d int) (backend.Heads, error) {
	t := s.upload(data, b, h, seq, d)
	if s.err != nil {
		return backend.Heads{}, s.err
	}
	return backend.HeadsOf(t)
}

// packedQKV uploads q, k, v ([B, H, S, D] each) interleaved as one [B, S, 3*H*D]
// tensor, as a packed in_proj output, and returns strided head views of it.
func packedQKV(s *session, q, k, v []float32, b, h, seq, d int) (qh, kh, vh backend.Heads, err error) {
	e := h * d
	packed := make([]float32, b*seq*3*e)
	for part, src := range [][]float32{q, k, v} {
		for bi := range b {
			for hi := range h {
				for si := range seq {
					from := ((bi*h+hi)*seq + si) * d
					to := (bi*seq+si)*3*e + part*e + hi*d
					copy(packed[to:to+d], src[from:from+d])
				}
			}
		}
	}
	t := s.upload(packed, b, seq, 3*e)
	if s.err != nil {
		return qh, kh, vh, s.err
	}
	if qh, err = backend.PackedHeads(t, h, d, 0); err != nil {
		return
	}
	if kh, err = backend.PackedHeads(t, h, d, e); err != nil {
		return
	}
	vh, err = backend.PackedHeads(t, h, d, 2*e)
	return
}

// softmax draws scores with masks; scores at positions a replacing mask hides
// are NaN or huge, which must not leak. It runs in place or into a new tensor.
func (g gen) softmax() Case {
	b, h := g.size(2), g.size(4)
	sq, sk := g.size(80), g.size(200)
	m := g.masks(b, h, sq, sk)
	scores := g.data(b*h*sq*sk, []float32{1, 10, 80}[g.rng.IntN(3)])
	poison := []float32{float32(math.NaN()), 1e30, float32(math.Inf(1))}
	hidden := m.oracle(b, h, sq, sk)
	for bi := range b {
		for hi := range h {
			for i := range sq {
				for j := range sk {
					if out, _ := hidden.Masked(bi, hi, i, j); out && g.rng.IntN(3) == 0 {
						scores[((bi*h+hi)*sq+i)*sk+j] = poison[g.rng.IntN(len(poison))]
					}
				}
			}
		}
	}
	g.poison(scores) // anywhere: a NaN at a masked position is replaced, as above
	inPlace := g.coin()
	desc := fmt.Sprintf("B=%d H=%d Sq=%d Sk=%d in-place=%v %v non-finite=%d", b, h, sq, sk, inPlace, m, *g.nonFinite)
	return Case{Op: "softmax", Desc: desc, RowLen: sk, run: func(s *session) (backend.Tensor, error) {
		st := s.upload(scores, b, h, sq, sk)
		dst := st
		if !inPlace {
			dst = s.alloc(b, h, sq, sk)
		}
		opt := m.options(s, b, sk)
		if s.err != nil {
			return nil, s.err
		}
		return dst, s.b.Softmax(dst, st, opt)
	}}
}

func (g gen) layerNorm() Case {
	rows, d := g.size(64), g.size(300)
	x := g.data(rows*d, 3)
	if g.coin() { // a large offset: a one-pass variance would lose it
		off := (2*g.rng.Float32() - 1) * 1000
		for i := range x {
			x[i] += off
		}
	}
	var gamma, beta, residual []float32
	if g.coin() {
		gamma, beta = g.data(d, 2), g.data(d, 1)
	}
	if g.coin() {
		residual = g.data(rows*d, 1)
	}
	eps := []float32{0, 1e-5, 1e-3}[g.rng.IntN(3)]
	g.poison(x)
	g.poison(gamma)
	g.poison(residual)
	desc := fmt.Sprintf("rows=%d d=%d affine=%v residual=%v eps=%g non-finite=%d", rows, d, gamma != nil, residual != nil, eps, *g.nonFinite)
	return Case{Op: "layernorm", Desc: desc, RowLen: d, run: func(s *session) (backend.Tensor, error) {
		xt := s.upload(x, rows, d)
		dst := s.alloc(rows, d)
		opt := backend.LayerNormOptions{Gamma: s.maybe(gamma, d), Beta: s.maybe(beta, d),
			Residual: s.maybe(residual, rows, d), Eps: eps}
		if s.err != nil {
			return nil, s.err
		}
		return dst, s.b.LayerNorm(dst, xt, opt)
	}}
}

func (g gen) ffn() Case {
	b, seq, dm, dff := g.size(2), g.size(40), g.size(96), g.size(200)
	x := g.data(b*seq*dm, 1)
	ws := float32(1 / math.Sqrt(float64(dm)))
	w1, w2 := g.data(dff*dm, ws), g.data(dm*dff, float32(1/math.Sqrt(float64(dff))))
	var b1, b2, residual []float32
	if g.coin() {
		b1, b2 = g.data(dff, 0.5), g.data(dm, 0.5)
	}
	if g.coin() {
		residual = g.data(b*seq*dm, 1)
	}
	act := g.activation()
	g.poison(x)
	g.poison(w1)
	g.poison(b1)
	g.poison(w2)
	desc := fmt.Sprintf("B=%d S=%d d_model=%d d_ff=%d act=%v bias=%v residual=%v non-finite=%d", b, seq, dm, dff, act, b1 != nil, residual != nil, *g.nonFinite)
	terms := func() []float64 {
		// h_j is bounded by T_j = sum_k |x_k W1_jk| + |b1_j| (so is act(h_j));
		// out_i by sum_j |W2_ij| T_j + |b2_i| + |residual_i|.
		t := make([]float64, b*seq*dm)
		hidden := make([]float64, dff)
		for r := range b * seq {
			for j := range dff {
				var sum float64
				for p := range dm {
					sum += finiteAbs(float64(x[r*dm+p]) * float64(w1[j*dm+p]))
				}
				if b1 != nil {
					sum += finiteAbs(float64(b1[j]))
				}
				hidden[j] = sum
			}
			for i := range dm {
				var sum float64
				for j := range dff {
					sum += finiteAbs(float64(w2[i*dff+j])) * hidden[j]
				}
				if b2 != nil {
					sum += finiteAbs(float64(b2[i]))
				}
				if residual != nil {
					sum += finiteAbs(float64(residual[r*dm+i]))
				}
				t[r*dm+i] = sum
			}
		}
		return t
	}
	return Case{Op: "ffn", Desc: desc, RowLen: dm, terms: terms, run: func(s *session) (backend.Tensor, error) {
		xt := s.upload(x, b, seq, dm)
		dst := s.alloc(b, seq, dm)
		w := backend.FFNWeights{W1: s.upload(w1, dff, dm), B1: s.maybe(b1, dff), W2: s.upload(w2, dm, dff), B2: s.maybe(b2, dm)}
		opt := backend.FFNOptions{Activation: act, Residual: s.maybe(residual, b, seq, dm)}
		if s.err != nil {
			return nil, s.err
		}
		return dst, s.b.FeedForward(dst, xt, w, opt)
	}}
}

func (g gen) posenc() Case {
	b, seq, d := g.size(2), g.size(100), g.size(128)
	start := g.rng.IntN(500)
	var x []float32
	var inputScale float32
	if g.coin() {
		x = g.data(b*seq*d, 1)
		inputScale = []float32{0, 1, float32(math.Sqrt(float64(d)))}[g.rng.IntN(3)]
	}
	desc := fmt.Sprintf("B=%d S=%d d=%d start=%d input=%v scale=%g", b, seq, d, start, x != nil, inputScale)
	// The encoding's values lie in [-1, 1]: its scale is 1 plus that of the
	// scaled input (a row of one sine may be nearly 0).
	effInput := float64(inputScale)
	if effInput == 0 {
		effInput = 1
	}
	scale := 1.0
	for _, v := range x {
		scale = math.Max(scale, 1+math.Abs(float64(v)*effInput))
	}
	return Case{Op: "posenc", Desc: desc, Scale: scale, run: func(s *session) (backend.Tensor, error) {
		opt := backend.PositionalOptions{Start: start, InputScale: inputScale}
		if x == nil {
			dst := s.alloc(seq, d)
			if s.err != nil {
				return nil, s.err
			}
			return dst, s.b.PositionalEncoding(dst, nil, opt)
		}
		xt := s.upload(x, b, seq, d)
		dst := s.alloc(b, seq, d)
		if s.err != nil {
			return nil, s.err
		}
		return dst, s.b.PositionalEncoding(dst, xt, opt)
	}}
}
