package gpu_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/tolerance"
)

// attnCase is one attention problem: sizes, masks and how q, k, v, out are laid out.
type attnCase struct {
	b, h, sq, sk, dk, dv int
	causal               backend.CausalMode
	mask                 string // "", "bool", "add" ([Sq,Sk]) or "bool4", "add4" ([B,H,Sq,Sk])
	pad                  bool   // key padding; NaN in k and v of padded keys
	fullyMasked          bool   // some rows (or a whole batch) see no key
	packed               bool   // PackedHeads views of [B,S,width] tensors whose gaps hold NaN
	scale                float32
}

func (c attnCase) String() string {
	s := fmt.Sprintf("b%d_h%d_q%d_k%d_d%d_dv%d", c.b, c.h, c.sq, c.sk, c.dk, c.dv)
	if c.causal != backend.NotCausal {
		s += fmt.Sprintf("_causal%d", c.causal)
	}
	if c.mask != "" {
		s += "_" + c.mask
	}
	if c.pad {
		s += "_pad"
	}
	if c.fullyMasked {
		s += "_fully"
	}
	if c.packed {
		s += "_packed"
	}
	return s
}

// attnData is the host side of a case: q, k, v as [B,H,S,D] and the masks.
type attnData struct {
	c       attnCase
	q, k, v []float32
	mask    []float32 // [Sq,Sk] or [B,H,Sq,Sk]
	pad     []float32 // [B,Sk]
}

func newAttnData(c attnCase, rng *rand.Rand) attnData {
	a := attnData{c: c,
		q: randomSlice(rng, c.b*c.h*c.sq*c.dk, 0, 1),
		k: randomSlice(rng, c.b*c.h*c.sk*c.dk, 0, 1),
		v: randomSlice(rng, c.b*c.h*c.sk*c.dv, 0, 1),
	}
	mh := 1
	if c.mask == "bool4" || c.mask == "add4" {
		mh = c.b * c.h
	}
	if c.mask != "" {
		a.mask = make([]float32, mh*c.sq*c.sk)
		for i := range a.mask {
			switch {
			case c.mask[0] == 'b':
				if rng.IntN(4) == 0 {
					a.mask[i] = 1
				}
			case rng.IntN(4) == 0:
				a.mask[i] = float32(math.Inf(-1))
			default:
				a.mask[i] = float32(rng.NormFloat64())
			}
		}
		if c.fullyMasked {
			for m := range mh {
				for i := 0; i < c.sq; i += 3 {
					for j := range c.sk {
						if c.mask[0] == 'b' {
							a.mask[(m*c.sq+i)*c.sk+j] = 1
						} else {
							a.mask[(m*c.sq+i)*c.sk+j] = float32(math.Inf(-1))
						}
					}
				}
			}
		}
	}
	if c.pad {
		a.pad = make([]float32, c.b*c.sk)
		for i := range a.pad {
			if rng.IntN(5) == 0 {
				a.pad[i] = 1
			}
		}
		if c.fullyMasked && c.b > 1 {
			for j := range c.sk {
				a.pad[(c.b-1)*c.sk+j] = 1
			}
		}
		nan := float32(math.NaN())
		for b := range c.b {
			for j := range c.sk {
				if a.pad[b*c.sk+j] == 0 {
					continue
				}
				for h := range c.h {
					for d := range c.dk {
						a.k[((b*c.h+h)*c.sk+j)*c.dk+d] = nan
					}
					for d := range c.dv {
						a.v[((b*c.h+h)*c.sk+j)*c.dv+d] = nan
					}
				}
			}
		}
	}
	return a
}

// masked reports whether query i of (b,h) must not see key j, and the additive term.
func (a attnData) masked(b, h, i, j int) (bool, float64) {
	c := a.c
	switch c.causal {
	case backend.CausalTopLeft:
		if j > i {
			return true, 0
		}
	case backend.CausalBottomRight:
		if j > i+c.sk-c.sq {
			return true, 0
		}
	}
	if a.pad != nil && a.pad[b*c.sk+j] != 0 {
		return true, 0
	}
	if a.mask == nil {
		return false, 0
	}
	m := i*c.sk + j
	if len(a.mask) > c.sq*c.sk {
		m += (b*c.h + h) * c.sq * c.sk
	}
	mv := a.mask[m]
	if c.mask[0] == 'b' {
		return mv != 0, 0
	}
	if math.IsInf(float64(mv), -1) {
		return true, 0
	}
	return false, float64(mv)
}

// reference is attention in float64 and, naively, in float32, as [B,H,Sq,Dv];
// weights64 are the float64 softmax weights [B,H,Sq,Sk]. A row with every key
// masked is zeros; weights of exactly zero skip their values.
func (a attnData) reference() (ref []float64, naive []float32, weights64 []float64) {
	c := a.c
	scale := float64(backend.AttentionOptions{Scale: c.scale}.EffectiveScale(c.dk))
	ref = make([]float64, c.b*c.h*c.sq*c.dv)
	naive = make([]float32, len(ref))
	weights64 = make([]float64, c.b*c.h*c.sq*c.sk)
	s64 := make([]float64, c.sk)
	s32 := make([]float32, c.sk)
	for b := range c.b {
		for h := range c.h {
			bh := b*c.h + h
			for i := range c.sq {
				m64, m32 := math.Inf(-1), float32(math.Inf(-1))
				for j := range c.sk {
					out, add := a.masked(b, h, i, j)
					if out {
						s64[j], s32[j] = math.Inf(-1), float32(math.Inf(-1))
						continue
					}
					var d64 float64
					var d32 float32
					for d := range c.dk {
						x, y := a.q[(bh*c.sq+i)*c.dk+d], a.k[(bh*c.sk+j)*c.dk+d]
						d64 += float64(x) * float64(y)
						d32 += x * y
					}
					s64[j] = scale*d64 + add
					s32[j] = float32(scale)*d32 + float32(add)
					m64, m32 = math.Max(m64, s64[j]), max(m32, s32[j])
				}
				var l64 float64
				var l32 float32
				for j := range c.sk {
					if math.IsInf(m64, -1) {
						s64[j], s32[j] = 0, 0
						continue
					}
					s64[j] = math.Exp(s64[j] - m64)
					s32[j] = float32(math.Exp(float64(s32[j] - m32)))
					l64 += s64[j]
					l32 += s32[j]
				}
				row := (bh*c.sq + i) * c.dv
				for j := range c.sk {
					if s64[j] == 0 {
						continue
					}
					w64, w32 := s64[j]/l64, s32[j]/l32
					weights64[(bh*c.sq+i)*c.sk+j] = w64
					for d := range c.dv {
						x := a.v[(bh*c.sk+j)*c.dv+d]
						ref[row+d] += w64 * float64(x)
						naive[row+d] += w32 * x
					}
				}
			}
		}
	}
	return ref, naive, weights64
}

// device holds a case's tensors on a device.
type attnTensors struct {
	q, k, v, out backend.Heads
	mask, pad    backend.Tensor
	release      []backend.Tensor
}

// heads uploads x [B,H,S,D] as a contiguous tensor, or packed into a [B,S,width]
// tensor at column offset 3 with NaN in every other column.
func heads(t *testing.T, d *gpu.Device, x []float32, b, h, s, dim int, packed bool, at *attnTensors) backend.Heads {
	t.Helper()
	if !packed {
		tt := upload(t, d, x, b, h, s, dim)
		at.release = append(at.release, tt)
		hv, err := backend.HeadsOf(tt)
		if err != nil {
			t.Fatal(err)
		}
		return hv
	}
	const colOffset = 3
	width := colOffset + h*dim + 5
	buf := make([]float32, b*s*width)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	for bi := range b {
		for hi := range h {
			for si := range s {
				for di := range dim {
					buf[(bi*s+si)*width+colOffset+hi*dim+di] = x[((bi*h+hi)*s+si)*dim+di]
				}
			}
		}
	}
	tt := upload(t, d, buf, b, s, width)
	at.release = append(at.release, tt)
	hv, err := backend.PackedHeads(tt, h, dim, colOffset)
	if err != nil {
		t.Fatal(err)
	}
	return hv
}

func (a attnData) upload(t *testing.T, d *gpu.Device) *attnTensors {
	t.Helper()
	c := a.c
	at := &attnTensors{}
	at.q = heads(t, d, a.q, c.b, c.h, c.sq, c.dk, c.packed, at)
	at.k = heads(t, d, a.k, c.b, c.h, c.sk, c.dk, c.packed, at)
	at.v = heads(t, d, a.v, c.b, c.h, c.sk, c.dv, c.packed, at)
	at.out = heads(t, d, make([]float32, c.b*c.h*c.sq*c.dv), c.b, c.h, c.sq, c.dv, c.packed, at)
	if a.mask != nil {
		shape := []int{c.sq, c.sk}
		if len(a.mask) > c.sq*c.sk || c.mask == "bool4" || c.mask == "add4" {
			shape = []int{c.b, c.h, c.sq, c.sk}
		}
		at.mask = upload(t, d, a.mask, shape...)
		at.release = append(at.release, at.mask)
	}
	if a.pad != nil {
		at.pad = upload(t, d, a.pad, c.b, c.sk)
		at.release = append(at.release, at.pad)
	}
	t.Cleanup(func() {
		for _, x := range at.release {
			_ = x.Release()
		}
	})
	return at
}

func (a attnData) options(at *attnTensors) backend.AttentionOptions {
	opt := backend.AttentionOptions{Scale: a.c.scale, Causal: a.c.causal, Mask: at.mask}
	if a.c.mask == "add" || a.c.mask == "add4" {
		opt.MaskKind = backend.MaskAdditive
	}
	if at.pad != nil {
		opt.KeyPadding = at.pad
	}
	return opt
}

// readHeads downloads a Heads view as [B,H,S,D] and checks that, for a packed
// view, the gaps still hold NaN.
func readHeads(t *testing.T, d *gpu.Device, hv backend.Heads, packed bool) []float32 {
	t.Helper()
	all := download(t, d, hv.T)
	got := make([]float32, hv.Batch*hv.Heads*hv.Seq*hv.Dim)
	inside := make([]bool, len(all))
	for b := range hv.Batch {
		for h := range hv.Heads {
			for s := range hv.Seq {
				for x := range hv.Dim {
					at := hv.Offset + b*hv.BatchStride + h*hv.HeadStride + s*hv.SeqStride + x
					got[((b*hv.Heads+h)*hv.Seq+s)*hv.Dim+x] = all[at]
					inside[at] = true
				}
			}
		}
	}
	if packed {
		for i, x := range all {
			if !inside[i] && !math.IsNaN(float64(x)) {
				t.Fatalf("element %d outside the view was overwritten with %g", i, x)
			}
		}
	}
	return got
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		if a := math.Abs(float64(v)); !math.IsNaN(a) && !math.IsInf(a, 0) {
			m = math.Max(m, a)
		}
	}
	return m
}

// checkAttention compares got with the reference and checks that rows whose
// every key is masked are exactly zero.
func checkAttention(t *testing.T, what string, a attnData, got []float32, ref []float64, naive []float32) {
	t.Helper()
	if rep := tolerance.Check(got, ref, naive, maxAbs(a.v)); !rep.OK() {
		t.Errorf("%s %v (seed 3/5): %v", what, a.c, rep)
	}
	c := a.c
	for b := range c.b {
		for h := range c.h {
			for i := range c.sq {
				seen := false
				for j := 0; j < c.sk && !seen; j++ {
					out, _ := a.masked(b, h, i, j)
					seen = !out
				}
				if seen {
					continue
				}
				row := got[((b*c.h+h)*c.sq+i)*c.dv:][:c.dv]
				for _, x := range row {
					if x != 0 {
						t.Fatalf("%s %v: fully masked row b%d h%d i%d is %v, want zeros", what, c, b, h, i, row)
					}
				}
			}
		}
	}
}

// runAttention checks the fused kernel and the unfused Scores, Softmax (in place),
// AttendValues path against the float64 reference, and against each other.
func runAttention(t *testing.T, d *gpu.Device, c attnCase) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 5))
	a := newAttnData(c, rng)
	at := a.upload(t, d)
	opt := a.options(at)
	ref, naive, weights := a.reference()

	if err := d.Attention(at.out, at.q, at.k, at.v, opt); err != nil {
		t.Fatal(err)
	}
	fused := readHeads(t, d, at.out, c.packed)
	checkAttention(t, "fused", a, fused, ref, naive)
	if d.Info().Type == "cpu" {
		// The GPU kernel (flash.cl) with NVIDIA's tiling, which this device would not pick.
		if err := d.AttentionGPUTiles(at.out, at.q, at.k, at.v, opt); err != nil {
			t.Fatal(err)
		}
		checkAttention(t, "fused (GPU tiles)", a, readHeads(t, d, at.out, c.packed), ref, naive)
	}

	scores, err := d.Alloc(c.b, c.h, c.sq, c.sk)
	if err != nil {
		t.Fatal(err)
	}
	defer scores.Release()
	if err := d.Scores(scores, at.q, at.k, c.scale); err != nil {
		t.Fatal(err)
	}
	if err := d.Softmax(scores, scores, opt); err != nil {
		t.Fatal(err)
	}
	if rep := tolerance.Check(download(t, d, scores), weights, nil, 1); !rep.OK() {
		t.Errorf("softmax weights %v: %v", c, rep)
	}
	if err := d.AttendValues(at.out, scores, at.v); err != nil {
		t.Fatal(err)
	}
	unfused := readHeads(t, d, at.out, c.packed)
	checkAttention(t, "unfused", a, unfused, ref, naive)

	if d.Info().Type == "cpu" {
		// attn_bmm and attn_softmax with NVIDIA's tiling, which this device would not pick.
		if err := d.UnfusedGPUTiles(at.out, at.q, at.k, at.v, scores, opt); err != nil {
			t.Fatal(err)
		}
		if rep := tolerance.Check(download(t, d, scores), weights, nil, 1); !rep.OK() {
			t.Errorf("softmax weights (GPU tiles) %v: %v", c, rep)
		}
		checkAttention(t, "unfused (GPU tiles)", a, readHeads(t, d, at.out, c.packed), ref, naive)
	}

	unfused64 := make([]float64, len(unfused))
	for i, x := range unfused {
		unfused64[i] = float64(x)
	}
	if rep := tolerance.Check(fused, unfused64, nil, maxAbs(a.v)); !rep.OK() {
		t.Errorf("fused vs unfused %v: %v", c, rep)
	}
}

func TestAttentionSeqLengths(t *testing.T) {
	d := gputest.Device(t)
	for _, s := range []int{1, 7, 63, 64, 65, 129, 257} {
		for _, causal := range []backend.CausalMode{backend.NotCausal, backend.CausalTopLeft} {
			c := attnCase{b: 1, h: 2, sq: s, sk: s, dk: 64, dv: 64, causal: causal}
			t.Run(c.String(), func(t *testing.T) { runAttention(t, d, c) })
		}
	}
}

func TestAttentionShapes(t *testing.T) {
	d := gputest.Device(t)
	for _, c := range []attnCase{
		{b: 2, h: 1, sq: 1, sk: 147, dk: 64, dv: 64, causal: backend.CausalBottomRight, pad: true},
		{b: 1, h: 3, sq: 239, sk: 1, dk: 24, dv: 24, causal: backend.CausalTopLeft},
		{b: 1, h: 2, sq: 1, sk: 147, dk: 3, dv: 1},
		{b: 2, h: 2, sq: 40, sk: 70, dk: 1, dv: 3, causal: backend.CausalBottomRight},
		{b: 1, h: 2, sq: 70, sk: 40, dk: 59, dv: 24, causal: backend.CausalBottomRight, mask: "bool"},
		{b: 1, h: 2, sq: 65, sk: 65, dk: 80, dv: 80, mask: "add", scale: 0.3},
		{b: 1, h: 1, sq: 129, sk: 100, dk: 128, dv: 128, causal: backend.CausalTopLeft, pad: true},
		{b: 1, h: 1, sq: 33, sk: 257, dk: 24, dv: 128, mask: "add4"},
	} {
		t.Run(c.String(), func(t *testing.T) { runAttention(t, d, c) })
	}
}

func TestAttentionMasks(t *testing.T) {
	d := gputest.Device(t)
	for _, c := range []attnCase{
		{b: 2, h: 2, sq: 65, sk: 65, dk: 24, dv: 24, mask: "bool"},
		{b: 2, h: 2, sq: 65, sk: 65, dk: 24, dv: 24, mask: "bool4", fullyMasked: true},
		{b: 2, h: 2, sq: 65, sk: 65, dk: 24, dv: 24, mask: "add", fullyMasked: true},
		{b: 2, h: 2, sq: 65, sk: 65, dk: 24, dv: 24, mask: "add4", causal: backend.CausalTopLeft},
		{b: 2, h: 2, sq: 65, sk: 65, dk: 24, dv: 24, pad: true, fullyMasked: true},
		{b: 3, h: 2, sq: 50, sk: 90, dk: 24, dv: 24, pad: true, mask: "bool", causal: backend.CausalBottomRight, fullyMasked: true},
		// Bottom-right with Sq > Sk: the first rows see no key at all.
		{b: 1, h: 2, sq: 90, sk: 50, dk: 24, dv: 24, causal: backend.CausalBottomRight},
		{b: 2, h: 2, sq: 70, sk: 70, dk: 24, dv: 24, pad: true, mask: "add", causal: backend.CausalTopLeft, packed: true},
		{b: 2, h: 3, sq: 33, sk: 47, dk: 59, dv: 24, mask: "bool4", pad: true, packed: true, fullyMasked: true},
	} {
		t.Run(c.String(), func(t *testing.T) { runAttention(t, d, c) })
	}
}

// TestSoftmaxMaskedNaN puts NaN and huge values into the scores at masked
// positions: a boolean mask replaces them, so none may leak.
func TestSoftmaxMaskedNaN(t *testing.T) {
	d := gputest.Device(t)
	const b, h, sq, sk = 2, 2, 9, 70
	rng := rand.New(rand.NewPCG(9, 1))
	scores := randomSlice(rng, b*h*sq*sk, 0, 2)
	mask := make([]float32, sq*sk)
	pad := make([]float32, b*sk)
	for i := range mask {
		if rng.IntN(3) == 0 {
			mask[i] = 1
		}
	}
	for j := range sk {
		mask[4*sk+j] = 1 // row 4 fully masked
		if j%7 == 0 {
			pad[sk+j] = 1
		}
	}
	ref := make([]float64, len(scores))
	for r := range b * h * sq {
		bi, i := r/(h*sq), r%sq
		row := scores[r*sk:][:sk]
		out := func(j int) bool { return mask[i*sk+j] != 0 || pad[bi*sk+j] != 0 || j > i+sk-sq }
		m := math.Inf(-1)
		for j := range sk {
			if out(j) {
				row[j] = []float32{float32(math.NaN()), 1e30, float32(math.Inf(1))}[j%3]
				continue
			}
			m = math.Max(m, float64(row[j]))
		}
		var l float64
		for j := range sk {
			if !out(j) {
				l += math.Exp(float64(row[j]) - m)
			}
		}
		for j := range sk {
			if !out(j) {
				ref[r*sk+j] = math.Exp(float64(row[j])-m) / l
			}
		}
	}
	st := upload(t, d, scores, b, h, sq, sk)
	defer st.Release()
	mt := upload(t, d, mask, sq, sk)
	defer mt.Release()
	pt := upload(t, d, pad, b, sk)
	defer pt.Release()
	dst, err := d.Alloc(b, h, sq, sk)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Release()
	opt := backend.AttentionOptions{Mask: mt, KeyPadding: pt, Causal: backend.CausalBottomRight}
	if err := d.Softmax(dst, st, opt); err != nil {
		t.Fatal(err)
	}
	if rep := tolerance.Check(download(t, d, dst), ref, nil, 1); !rep.OK() {
		t.Errorf("softmax with NaN at masked positions: %v", rep)
	}
}

func TestAttentionErrors(t *testing.T) {
	d := gputest.Device(t)
	x, err := d.Alloc(1, 2, 5, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	hv, err := backend.HeadsOf(x)
	if err != nil {
		t.Fatal(err)
	}
	short := hv
	short.Dim = 4
	scores, err := d.Alloc(1, 2, 5, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer scores.Release()
	for name, err := range map[string]error{
		"attention dims": d.Attention(hv, hv, short, hv, backend.AttentionOptions{}),
		"scores shape":   d.Scores(scores, hv, hv, 0),
		"softmax mask":   d.Softmax(scores, scores, backend.AttentionOptions{Mask: x}),
		"attend shape":   d.AttendValues(hv, scores, hv),
	} {
		if !errors.Is(err, backend.ErrShape) {
			t.Errorf("%s: got %v, want ErrShape", name, err)
		}
	}
	if err := d.Attention(hv, hv, hv, hv, backend.AttentionOptions{Causal: 7}); !errors.Is(err, backend.ErrArgument) {
		t.Errorf("bad causal mode: got %v, want ErrArgument", err)
	}
}

// BenchmarkAttention times the fused kernel on [1, heads, seq, 64] (causal off)
// and reports GFLOP/s (4*heads*seq^2*64 per call) and the process's peak RSS.
func BenchmarkAttention(b *testing.B) {
	d := gputest.Device(b)
	for _, bc := range []struct{ seq, heads int }{{512, 8}, {4096, 8}, {16384, 8}} {
		b.Run(fmt.Sprintf("seq=%d/heads=%d", bc.seq, bc.heads), func(b *testing.B) {
			const dim = 64
			rng := rand.New(rand.NewPCG(1, 2))
			n := bc.heads * bc.seq * dim
			var ts []backend.Tensor
			mk := func() backend.Heads {
				x, err := d.Upload(randomSlice(rng, n, 0, 1), 1, bc.heads, bc.seq, dim)
				if err != nil {
					b.Fatal(err)
				}
				ts = append(ts, x)
				hv, _ := backend.HeadsOf(x)
				return hv
			}
			q, k, v, out := mk(), mk(), mk(), mk()
			defer func() {
				for _, x := range ts {
					_ = x.Release()
				}
			}()
			one := make([]float32, n)
			run := func() {
				if err := d.Attention(out, q, k, v, backend.AttentionOptions{}); err != nil {
					b.Fatal(err)
				}
				if err := d.Download(one, out.T); err != nil {
					b.Fatal(err)
				}
			}
			run() // build and warm up
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				run()
			}
			b.StopTimer()
			flops := 4 * float64(bc.heads) * float64(bc.seq) * float64(bc.seq) * dim
			b.ReportMetric(flops*float64(b.N)/time.Since(start).Seconds()*1e-9, "GFLOP/s")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MB")
			}
		})
	}
}
