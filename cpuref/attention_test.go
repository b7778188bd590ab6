package cpuref_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// attnCase is one attention problem; masks are built from the flags.
type attnCase struct {
	b, h, sq, sk, d, dv int
	causal              backend.CausalMode
	mask                string // "", "bool", "additive", "bool4", "additive4"
	padding             bool
	scale               float32
	pad                 bool
}

var attnCases = []attnCase{
	{b: 1, h: 1, sq: 1, sk: 1, d: 1, dv: 1},
	{b: 2, h: 3, sq: 5, sk: 7, d: 4, dv: 6, pad: true},
	{b: 1, h: 2, sq: 0, sk: 4, d: 3, dv: 3},
	{b: 1, h: 2, sq: 3, sk: 0, d: 3, dv: 3},
	{b: 2, h: 2, sq: 70, sk: 300, d: 16, dv: 8, causal: backend.CausalTopLeft, pad: true},
	{b: 2, h: 2, sq: 70, sk: 300, d: 16, dv: 8, causal: backend.CausalBottomRight},
	{b: 1, h: 1, sq: 9, sk: 4, d: 8, dv: 8, causal: backend.CausalBottomRight}, // early rows see nothing
	{b: 2, h: 2, sq: 33, sk: 140, d: 8, dv: 5, mask: "bool", padding: true, pad: true},
	{b: 2, h: 3, sq: 20, sk: 150, d: 8, dv: 8, mask: "additive4", causal: backend.CausalTopLeft},
	{b: 2, h: 1, sq: 65, sk: 129, d: 12, dv: 7, mask: "bool4", padding: true, scale: 0.3},
	{b: 1, h: 2, sq: 130, sk: 260, d: 64, dv: 64, mask: "additive", padding: true, pad: true},
}

// attnProblem is a generated case: host data, views and the float64 oracle's inputs.
type attnProblem struct {
	c                     attnCase
	q, k, v               []float32 // logical [B,H,S,D] values
	maskData, paddingData []float32
	maskShape             []int
	opt                   backend.AttentionOptions
}

// masked reports whether key j is out for query i of (b, h), and the additive term.
func (p *attnProblem) masked(b, h, i, j int) (bool, float64) {
	c := p.c
	if p.paddingData != nil && p.paddingData[b*c.sk+j] != 0 {
		return true, 0
	}
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
	if p.maskData != nil {
		at := i*c.sk + j
		if len(p.maskShape) == 4 {
			at += (b*c.h + h) * c.sq * c.sk
		}
		if p.opt.MaskKind == backend.MaskBool {
			return p.maskData[at] != 0, 0
		}
		return false, float64(p.maskData[at])
	}
	return false, 0
}

func newAttnProblem(c attnCase, seed uint64) *attnProblem {
	r := newRand(seed)
	p := &attnProblem{c: c, opt: backend.AttentionOptions{Scale: c.scale, Causal: c.causal}}
	p.q = uniform(r, c.b*c.h*c.sq*c.d)
	p.k = uniform(r, c.b*c.h*c.sk*c.d)
	p.v = uniform(r, c.b*c.h*c.sk*c.dv)
	for i := range p.q {
		p.q[i] *= 3 // sharper softmax
	}
	if c.padding {
		p.paddingData = make([]float32, c.b*c.sk)
		for i := range p.paddingData {
			if r.IntN(4) == 0 {
				p.paddingData[i] = 1
			}
		}
		for j := range c.sk { // the last batch is all padding: zero rows
			p.paddingData[(c.b-1)*c.sk+j] = 1
		}
	}
	if c.mask != "" {
		p.maskShape = []int{c.sq, c.sk}
		if c.mask[len(c.mask)-1] == '4' {
			p.maskShape = []int{c.b, c.h, c.sq, c.sk}
		}
		n := 1
		for _, d := range p.maskShape {
			n *= d
		}
		p.maskData = make([]float32, n)
		additive := c.mask[0] == 'a'
		if additive {
			p.opt.MaskKind = backend.MaskAdditive
		}
		for i := range p.maskData {
			switch {
			case r.IntN(5) == 0:
				p.maskData[i] = 1
				if additive {
					p.maskData[i] = float32(math.Inf(-1))
				}
			case additive:
				p.maskData[i] = r.Float32() - 0.5
			}
		}
		// row 0 fully masked
		for j := range c.sk {
			if c.sq > 0 {
				p.maskData[j] = map[bool]float32{false: 1, true: float32(math.Inf(-1))}[additive]
			}
		}
	}
	p.poisonMaskedValues(r)
	return p
}

// poisonMaskedValues puts NaN into k and v at keys that no query of their
// (b, h) can see, so any leak of a masked value shows.
func (p *attnProblem) poisonMaskedValues(r *rand.Rand) {
	c := p.c
	for b := range c.b {
		for h := range c.h {
			for j := range c.sk {
				seen := false
				for i := range c.sq {
					if out, _ := p.masked(b, h, i, j); !out {
						seen = true
						break
					}
				}
				if !seen && r.IntN(2) == 0 {
					for d := range c.d {
						if p.opt.MaskKind == backend.MaskBool || p.maskData == nil {
							p.k[((b*c.h+h)*c.sk+j)*c.d+d] = nan32
						}
					}
					for d := range c.dv {
						p.v[((b*c.h+h)*c.sk+j)*c.dv+d] = nan32
					}
				}
			}
		}
	}
}

// reference returns the float64 scores (after scale, before masks), weights and output.
func (p *attnProblem) reference() (scores, weights, out []float64) {
	c := p.c
	scale := float64(p.opt.EffectiveScale(c.d))
	scores = make([]float64, c.b*c.h*c.sq*c.sk)
	weights = make([]float64, len(scores))
	out = make([]float64, c.b*c.h*c.sq*c.dv)
	row := make([]float64, c.sk)
	for b := range c.b {
		for h := range c.h {
			bh := b*c.h + h
			for i := range c.sq {
				mx := math.Inf(-1)
				for j := range c.sk {
					var s float64
					for d := range c.d {
						s += float64(p.q[(bh*c.sq+i)*c.d+d]) * float64(p.k[(bh*c.sk+j)*c.d+d])
					}
					s *= scale
					scores[(bh*c.sq+i)*c.sk+j] = s
					out, add := p.masked(b, h, i, j)
					if out {
						s = math.Inf(-1)
					}
					row[j] = s + add
					mx = math.Max(mx, row[j])
				}
				if math.IsInf(mx, -1) {
					continue // fully masked: zeros
				}
				var sum float64
				for j := range c.sk {
					row[j] = math.Exp(row[j] - mx)
					sum += row[j]
				}
				for j := range c.sk {
					w := row[j] / sum
					weights[(bh*c.sq+i)*c.sk+j] = w
					if w == 0 {
						continue
					}
					for d := range c.dv {
						out[(bh*c.sq+i)*c.dv+d] += w * float64(p.v[(bh*c.sk+j)*c.dv+d])
					}
				}
			}
		}
	}
	return scores, weights, out
}

// upload puts q, k, v, out (NaN-filled) and the masks on be.
func (p *attnProblem) upload(t *testing.T, be *cpuref.Backend) (q, k, v, out backend.Heads, qh, kh, vh, oh padded) {
	c := p.c
	qh, q = headsLayout(p.q, c.b, c.h, c.sq, c.d, c.pad)
	kh, k = headsLayout(p.k, c.b, c.h, c.sk, c.d, c.pad)
	vh, v = headsLayout(p.v, c.b, c.h, c.sk, c.dv, c.pad)
	oh, out = headsLayout(nans(c.b*c.h*c.sq*c.dv), c.b, c.h, c.sq, c.dv, c.pad)
	q.T = upload(t, be, qh.data, len(qh.data))
	k.T = upload(t, be, kh.data, len(kh.data))
	v.T = upload(t, be, vh.data, len(vh.data))
	out.T = upload(t, be, oh.data, len(oh.data))
	if p.maskData != nil {
		p.opt.Mask = upload(t, be, p.maskData, p.maskShape...)
	}
	if p.paddingData != nil {
		p.opt.KeyPadding = upload(t, be, p.paddingData, c.b, c.sk)
	}
	return
}

func TestAttention(t *testing.T) {
	for ci, c := range attnCases {
		t.Run(fmt.Sprintf("%d:%+v", ci, c), func(t *testing.T) {
			be := cpuref.New()
			p := newAttnProblem(c, uint64(ci))
			_, _, ref := p.reference()
			q, k, v, out, qh, kh, vh, oh := p.upload(t, be)
			noErr(t, be.Attention(out, q, k, v, p.opt))
			got := download(t, be, out.T)
			truef(t, sameBits(oh.gaps(), padded{data: got, index: oh.index}.gaps()), "out padding written")
			for _, in := range []struct {
				h padded
				t backend.Tensor
			}{{qh, q.T}, {kh, k.T}, {vh, v.T}} {
				truef(t, sameBits(download(t, be, in.t), in.h.data), "input changed")
			}
			requireCloseScale(t, oh.gather(got), ref, maxAbs(p.v), "Attention")
		})
	}
}

func TestScoresSoftmaxAttendValues(t *testing.T) {
	for ci, c := range attnCases {
		t.Run(fmt.Sprintf("%d:%+v", ci, c), func(t *testing.T) {
			be := cpuref.New()
			p := newAttnProblem(c, uint64(ci))
			refScores, refWeights, refOut := p.reference()
			q, k, v, out, _, _, _, oh := p.upload(t, be)
			scores := upload(t, be, nans(c.b*c.h*c.sq*c.sk), c.b, c.h, c.sq, c.sk)
			noErr(t, be.Scores(scores, q, k, p.opt.Scale))
			gotScores := download(t, be, scores)
			// NaN keys give NaN scores; the oracle agrees.
			requireClose(t, gotScores, refScores, c.sk, "Scores")

			// Softmax into a separate tensor, then in place; scores must not change.
			weights := upload(t, be, nans(len(gotScores)), c.b, c.h, c.sq, c.sk)
			noErr(t, be.Softmax(weights, scores, p.opt))
			truef(t, sameBits(download(t, be, scores), gotScores), "Softmax changed scores")
			gotWeights := download(t, be, weights)
			requireClose(t, gotWeights, refWeights, c.sk, "Softmax")
			noErr(t, be.Softmax(scores, scores, p.opt))
			truef(t, sameBits(download(t, be, scores), gotWeights), "in-place Softmax differs")

			// AttendValues with the oracle's weights, rounded to float32.
			w32 := make([]float32, len(refWeights))
			for i, w := range refWeights {
				w32[i] = float32(w)
			}
			noErr(t, be.AttendValues(out, upload(t, be, w32, c.b, c.h, c.sq, c.sk), v))
			got := download(t, be, out.T)
			truef(t, sameBits(oh.gaps(), padded{data: got, index: oh.index}.gaps()), "out padding written")
			requireCloseScale(t, oh.gather(got), refOut, maxAbs(p.v), "AttendValues")
		})
	}
}

func TestAttentionInPlace(t *testing.T) {
	// out overwrites q's columns of the packed QKV tensor.
	be := cpuref.New()
	c := attnCase{b: 2, h: 2, sq: 40, sk: 40, d: 8, dv: 8}
	p := newAttnProblem(c, 99)
	_, _, ref := p.reference()
	packed := make([]float32, c.b*c.sq*3*c.h*c.d)
	for b := range c.b {
		for h := range c.h {
			for i := range c.sq {
				for d := range c.d {
					row := packed[(b*c.sq+i)*3*c.h*c.d:]
					row[h*c.d+d] = p.q[((b*c.h+h)*c.sq+i)*c.d+d]
					row[(c.h+h)*c.d+d] = p.k[((b*c.h+h)*c.sq+i)*c.d+d]
					row[(2*c.h+h)*c.d+d] = p.v[((b*c.h+h)*c.sq+i)*c.d+d]
				}
			}
		}
	}
	qkv := upload(t, be, packed, c.b, c.sq, 3*c.h*c.d)
	q, err := backend.PackedHeads(qkv, c.h, c.d, 0)
	noErr(t, err)
	k, _ := backend.PackedHeads(qkv, c.h, c.d, c.h*c.d)
	v, _ := backend.PackedHeads(qkv, c.h, c.d, 2*c.h*c.d)
	noErr(t, be.Attention(q, q, k, v, backend.AttentionOptions{}))
	out := download(t, be, qkv)
	got := make([]float32, 0, len(ref))
	for b := range c.b {
		for h := range c.h {
			for i := range c.sq {
				got = append(got, out[(b*c.sq+i)*3*c.h*c.d+h*c.d:][:c.d]...)
			}
		}
	}
	requireCloseScale(t, got, ref, maxAbs(p.v), "in-place Attention")
}
