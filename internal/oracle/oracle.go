// Package oracle is the project's one float64 reference for every operation of
// backend.Backend: naive loops on host data, used by the conformance suite
// (backend/backendtest), the tuner's result checks (gpu.Tune) and the tests of
// the backends. Each function returns two results: ref64, computed in float64
// from the float32 inputs read exactly, and naive32, the same loops in float32
// written the obvious way, whose error against ref64 sets the ratio rule of
// internal/tolerance. Nothing here is tuned for speed.
package oracle

import (
	"math"

	"github.com/clattn/clattn/backend"
)

// Attention is one attention call on host data. Q is a contiguous
// [B, H, Sq, Dk] array, K and V [B, Hkv, Sk, D] (Hkv dividing H; 0 means H):
// K/V head j serves query heads j*H/Hkv ... (j+1)*H/Hkv-1, PyTorch's
// repeat_interleave order. K and V hold exactly the values the backend stores
// (the halves of a float16 tensor, say). The masks follow backend.AttentionOptions.
type Attention struct {
	B, H, Hkv, Sq, Sk, Dk, Dv int
	Q, K, V                   []float32
	// Scale is AttentionOptions.Scale (0: 1/sqrt(Dk)).
	Scale  float32
	Causal backend.CausalMode
	// Mask is [Sq, Sk] (Mask4D false) or [MaskB, MaskH, Sq, Sk], each of MaskB
	// and MaskH 1 (broadcast) or B and H (0 means B and H); nil for none.
	Mask         []float32
	Mask4D       bool
	MaskB, MaskH int
	MaskKind     backend.MaskKind
	// Padding is [B, Sk]; nonzero marks a padding key. nil for none.
	Padding []float32
	// KVType is the dtype K and V are stored in on the device (K and V hold
	// values of it, so the oracle computes with exactly what is stored).
	KVType backend.DType
}

// EffectiveScale is the factor applied to q*k^T.
func (p *Attention) EffectiveScale() float32 {
	return backend.AttentionOptions{Scale: p.Scale}.EffectiveScale(p.Dk)
}

// Rows is the number of query rows, B*H*Sq.
func (p *Attention) Rows() int { return p.B * p.H * p.Sq }

// KVHeads is the number of K/V heads.
func (p *Attention) KVHeads() int {
	if p.Hkv == 0 {
		return p.H
	}
	return p.Hkv
}

// kvIndex is the index, among the B*Hkv heads of K and V, of the K/V head
// that query head bh = b*H+h reads.
func (p *Attention) kvIndex(bh int) int {
	b, h := bh/p.H, bh%p.H
	return b*p.KVHeads() + h/(p.H/p.KVHeads())
}

// MaskDims are the leading dimensions of a 4-D mask.
func (p *Attention) MaskDims() (mb, mh int) {
	mb, mh = p.MaskB, p.MaskH
	if mb == 0 {
		mb = p.B
	}
	if mh == 0 {
		mh = p.H
	}
	return mb, mh
}

// Masked says whether key j is out for query i of head (b, h), and the additive
// mask entry where it is in.
func (p *Attention) Masked(b, h, i, j int) (out bool, add float32) {
	switch p.Causal {
	case backend.CausalTopLeft:
		out = j > i
	case backend.CausalBottomRight:
		out = j > i+p.Sk-p.Sq
	}
	if p.Padding != nil && p.Padding[b*p.Sk+j] != 0 {
		out = true
	}
	if p.Mask != nil {
		at := i*p.Sk + j
		if p.Mask4D {
			mb, mh := p.MaskDims()
			at += (b%mb*mh + h%mh) * p.Sq * p.Sk
		}
		m := p.Mask[at]
		if p.MaskKind == backend.MaskBool {
			out = out || m != 0
		} else {
			add = m
		}
	}
	return out, add
}

// RawScores are scale*q*k^T for every (b, h, i, j), without masks.
func (p *Attention) RawScores() ([]float64, []float32) {
	ref := make([]float64, p.Rows()*p.Sk)
	naive := make([]float32, len(ref))
	s32 := p.EffectiveScale()
	s64 := float64(s32)
	for bh := range p.B * p.H {
		for i := range p.Sq {
			qi := p.Q[(bh*p.Sq+i)*p.Dk:][:p.Dk]
			for j := range p.Sk {
				kj := p.K[(p.kvIndex(bh)*p.Sk+j)*p.Dk:][:p.Dk]
				var d64 float64
				var d32 float32
				for d := range p.Dk {
					d64 += float64(qi[d]) * float64(kj[d])
					d32 += qi[d] * kj[d]
				}
				at := (bh*p.Sq+i)*p.Sk + j
				ref[at] = s64 * d64
				naive[at] = s32 * d32
			}
		}
	}
	return ref, naive
}

// ScoreScales is, for each row (b, h, i) of the scores, the size of the terms of
// its dot products: |scale| * max_j sum_d |q[i,d] k[j,d]|. Rows whose dot
// products cancel are judged against it (tolerance.CheckRowScales).
func (p *Attention) ScoreScales() []float64 {
	scales := make([]float64, p.Rows())
	s := math.Abs(float64(p.EffectiveScale()))
	for bh := range p.B * p.H {
		for i := range p.Sq {
			qi := p.Q[(bh*p.Sq+i)*p.Dk:][:p.Dk]
			for j := range p.Sk {
				kj := p.K[(p.kvIndex(bh)*p.Sk+j)*p.Dk:][:p.Dk]
				var sum float64
				for d := range p.Dk {
					sum += math.Abs(float64(qi[d]) * float64(kj[d]))
				}
				scales[bh*p.Sq+i] = math.Max(scales[bh*p.Sq+i], s*sum)
			}
		}
	}
	return scales
}

// Softmax64 applies the masks to scores [B, H, Sq, Sk] and normalises each row
// in float64. dead marks the rows whose every key is out (all zeros).
func (p *Attention) Softmax64(scores []float64) (w []float64, dead []bool) {
	w = make([]float64, len(scores))
	dead = make([]bool, p.Rows())
	for b := range p.B {
		for h := range p.H {
			for i := range p.Sq {
				r := (b*p.H+h)*p.Sq + i
				row, wr := scores[r*p.Sk:][:p.Sk], w[r*p.Sk:][:p.Sk]
				m := math.Inf(-1)
				for j := range p.Sk {
					out, add := p.Masked(b, h, i, j)
					if out {
						wr[j] = math.Inf(-1)
					} else {
						wr[j] = row[j] + float64(add)
					}
					m = math.Max(m, wr[j])
				}
				if math.IsInf(m, -1) {
					dead[r] = true
					clear(wr)
					continue
				}
				var sum float64
				for j := range wr {
					wr[j] = math.Exp(wr[j] - m)
					sum += wr[j]
				}
				for j := range wr {
					wr[j] /= sum
				}
			}
		}
	}
	return w, dead
}

// Softmax32 is Softmax64 in float32.
func (p *Attention) Softmax32(scores []float32) []float32 {
	ninf := float32(math.Inf(-1))
	w := make([]float32, len(scores))
	for b := range p.B {
		for h := range p.H {
			for i := range p.Sq {
				r := (b*p.H+h)*p.Sq + i
				row, wr := scores[r*p.Sk:][:p.Sk], w[r*p.Sk:][:p.Sk]
				m := ninf
				for j := range p.Sk {
					out, add := p.Masked(b, h, i, j)
					if out {
						wr[j] = ninf
					} else {
						wr[j] = row[j] + add
					}
					m = max(m, wr[j])
				}
				if m == ninf {
					clear(wr)
					continue
				}
				var sum float32
				for j := range wr {
					wr[j] = float32(math.Exp(float64(wr[j] - m)))
					sum += wr[j]
				}
				for j := range wr {
					wr[j] /= sum
				}
			}
		}
	}
	return w
}

// Attend64 is out[b,h] = w[b,h]*v[b,h], skipping weights that are exactly zero.
func (p *Attention) Attend64(w []float64) []float64 { return attend(p, w) }

// Attend32 is Attend64 in float32.
func (p *Attention) Attend32(w []float32) []float32 { return attend(p, w) }

func attend[T float32 | float64](p *Attention, w []T) []T {
	out := make([]T, p.Rows()*p.Dv)
	for bh := range p.B * p.H {
		for i := range p.Sq {
			o := out[(bh*p.Sq+i)*p.Dv:][:p.Dv]
			for j := range p.Sk {
				wj := w[(bh*p.Sq+i)*p.Sk+j]
				if wj == 0 {
					continue
				}
				vj := p.V[(p.kvIndex(bh)*p.Sk+j)*p.Dv:][:p.Dv]
				for d := range o {
					o[d] += wj * T(vj[d])
				}
			}
		}
	}
	return out
}

// Run is the whole softmax(scale*q*k^T + masks)*v: ref64, naive32 and the
// rows whose every key is out.
func (p *Attention) Run() (ref []float64, naive []float32, dead []bool) {
	s64, s32 := p.RawScores()
	w64, dead := p.Softmax64(s64)
	return p.Attend64(w64), p.Attend32(p.Softmax32(s32)), dead
}

// MatAt reads element (b, i, j) of a backend.Mat laid out in buf.
func MatAt(buf []float32, m backend.Mat, b, i, j int) float32 {
	return buf[m.Offset+m.BatchIndex(b)*m.BatchStride+i*m.RowStride+j]
}

// Gemm is one Gemm call on host buffers (the whole tensors) and their views;
// the views' tensors are not read.
type Gemm struct {
	A, B, Dst, Bias, Res []float32
	AV, BV, DV, RV       backend.Mat
	Opt                  backend.GemmOptions
	Batch, M, N, K       int
}

func (g *Gemm) opA(b, i, k int) float32 {
	if g.Opt.TransA {
		return MatAt(g.A, g.AV, b, k, i)
	}
	return MatAt(g.A, g.AV, b, i, k)
}

func (g *Gemm) opB(b, k, j int) float32 {
	if g.Opt.TransB {
		return MatAt(g.B, g.BV, b, j, k)
	}
	return MatAt(g.B, g.BV, b, k, j)
}

// Run returns ref64 and naive32 of dst's view as a compact [Batch, M, N] array.
func (g *Gemm) Run() ([]float64, []float32) {
	ref := make([]float64, g.Batch*g.M*g.N)
	naive := make([]float32, len(ref))
	alpha := g.Opt.EffectiveAlpha()
	for b := range g.Batch {
		for i := range g.M {
			for j := range g.N {
				var s64 float64
				var s32 float32
				for k := range g.K {
					x, y := g.opA(b, i, k), g.opB(b, k, j)
					s64 += float64(x) * float64(y)
					s32 += x * y
				}
				v64, v32 := float64(alpha)*s64, alpha*s32
				if g.Opt.Beta != 0 {
					c := MatAt(g.Dst, g.DV, b, i, j)
					v64 += float64(g.Opt.Beta) * float64(c)
					v32 += g.Opt.Beta * c
				}
				if g.Bias != nil {
					v64 += float64(g.Bias[j])
					v32 += g.Bias[j]
				}
				v64, v32 = Activate64(g.Opt.Activation, v64), Activate32(g.Opt.Activation, v32)
				if g.Res != nil {
					r := MatAt(g.Res, g.RV, b, i, j)
					v64 += float64(r)
					v32 += r
				}
				at := (b*g.M+i)*g.N + j
				ref[at], naive[at] = v64, v32
			}
		}
	}
	return ref, naive
}

// Activate64 is activation a in float64. GELU is x/2 * erfc(-x/sqrt 2), which
// keeps its relative accuracy in the negative tail where 1 + erf cancels (to 0
// below x = -8.3 in float64).
func Activate64(a backend.Activation, x float64) float64 {
	switch a {
	case backend.ReLU:
		return math.Max(x, 0)
	case backend.GELU:
		return x / 2 * math.Erfc(-x/math.Sqrt2)
	case backend.SiLU:
		return x / (1 + math.Exp(-x))
	}
	return x
}

func Activate32(a backend.Activation, x float32) float32 {
	switch a {
	case backend.ReLU:
		return max(x, 0)
	case backend.GELU, backend.SiLU:
		return float32(Activate64(a, float64(x)))
	}
	return x
}

// LayerNorm normalises rows of d elements of x (+ res). The sum x + res is
// taken in float32, as the backend stores it, and read exactly from there.
func LayerNorm(x, res, gamma, beta []float32, d int, eps float32) ([]float64, []float32) {
	ref := make([]float64, len(x))
	naive := make([]float32, len(x))
	if d == 0 {
		return ref, naive
	}
	y := make([]float32, d)
	for r := range len(x) / d {
		copy(y, x[r*d:][:d])
		if res != nil {
			for j, v := range res[r*d:][:d] {
				y[j] += v
			}
		}
		var mean64, var64 float64
		var mean32, var32 float32
		for _, v := range y {
			mean64 += float64(v)
			mean32 += v
		}
		mean64 /= float64(d)
		mean32 /= float32(d)
		for _, v := range y {
			var64 += (float64(v) - mean64) * (float64(v) - mean64)
			var32 += (v - mean32) * (v - mean32)
		}
		var64 /= float64(d)
		var32 /= float32(d)
		inv64 := 1 / math.Sqrt(var64+float64(eps))
		inv32 := float32(1 / math.Sqrt(float64(var32+eps)))
		for j, v := range y {
			o64, o32 := (float64(v)-mean64)*inv64, (v-mean32)*inv32
			if gamma != nil {
				o64 *= float64(gamma[j])
				o32 *= gamma[j]
			}
			if beta != nil {
				o64 += float64(beta[j])
				o32 += beta[j]
			}
			ref[r*d+j], naive[r*d+j] = o64, o32
		}
	}
	return ref, naive
}

// FeedForward is act(x*W1^T + b1)*W2^T + b2 + res for rows of dModel elements.
func FeedForward(x, w1, b1, w2, b2, res []float32, dModel, dff int, act backend.Activation) ([]float64, []float32) {
	ref := make([]float64, len(x))
	naive := make([]float32, len(x))
	if dModel == 0 {
		return ref, naive
	}
	h64 := make([]float64, dff)
	h32 := make([]float32, dff)
	for r := range len(x) / dModel {
		xr := x[r*dModel:][:dModel]
		for f := range dff {
			var s64 float64
			var s32 float32
			for d, v := range xr {
				s64 += float64(v) * float64(w1[f*dModel+d])
				s32 += v * w1[f*dModel+d]
			}
			if b1 != nil {
				s64 += float64(b1[f])
				s32 += b1[f]
			}
			h64[f], h32[f] = Activate64(act, s64), Activate32(act, s32)
		}
		for d := range dModel {
			var s64 float64
			var s32 float32
			for f := range dff {
				s64 += h64[f] * float64(w2[d*dff+f])
				s32 += h32[f] * w2[d*dff+f]
			}
			if b2 != nil {
				s64 += float64(b2[d])
				s32 += b2[d]
			}
			if res != nil {
				s64 += float64(res[r*dModel+d])
				s32 += res[r*dModel+d]
			}
			ref[r*dModel+d], naive[r*dModel+d] = s64, s32
		}
	}
	return ref, naive
}

// Positional is x*inputScale + PE[start+s] for x [rows of seq positions, d]
// (x nil: the encoding alone). naive32 forms the angle in float32, as PyTorch does.
func Positional(x []float32, n, seq, d, start int, inputScale float32) ([]float64, []float32) {
	ref := make([]float64, n)
	naive := make([]float32, n)
	if d == 0 || seq == 0 {
		return ref, naive
	}
	logBase := math.Log(10000)
	for at := range n {
		s, j := (at/d)%seq, at%d
		pos := start + s
		even := j - j%2
		freq64 := math.Exp(-float64(even) / float64(d) * logBase)
		freq32 := float32(math.Exp(float64(float32(even) * float32(-logBase/float64(d)))))
		angle64, angle32 := float64(pos)*freq64, float32(pos)*freq32
		pe64, pe32 := math.Sin(angle64), float32(math.Sin(float64(angle32)))
		if j%2 == 1 {
			pe64, pe32 = math.Cos(angle64), float32(math.Cos(float64(angle32)))
		}
		if x != nil {
			pe64 += float64(x[at]) * float64(inputScale)
			pe32 += x[at] * inputScale
		}
		ref[at], naive[at] = pe64, pe32
	}
	return ref, naive
}
