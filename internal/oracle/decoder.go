package oracle

import (
	"math"

	"github.com/clattn/clattn/backend"
)

// Oracles of the decoder-only operations: RMSNorm, Rotary, GatedFeedForward.

// RMSNorm normalises rows of d elements of y = x + res (the sum rounded
// to float32, as the backend stores it) by their root mean square.
func RMSNorm(x, res, weight []float32, d int, eps float32) (ref []float64, naive []float32, y []float32) {
	ref = make([]float64, len(x))
	naive = make([]float32, len(x))
	y = append([]float32(nil), x...)
	for i := range res {
		y[i] += res[i]
	}
	if d == 0 {
		return ref, naive, y
	}
	for r := range len(x) / d {
		row := y[r*d : (r+1)*d]
		var ss64 float64
		var ss32 float32
		for _, v := range row {
			ss64 += float64(v) * float64(v)
			ss32 += v * v
		}
		rstd64 := 1 / math.Sqrt(ss64/float64(d)+float64(eps))
		rstd32 := float32(1 / math.Sqrt(float64(ss32/float32(d)+eps)))
		for j, v := range row {
			ref[r*d+j] = float64(v) * rstd64
			naive[r*d+j] = v * rstd32
			if weight != nil {
				ref[r*d+j] *= float64(weight[j])
				naive[r*d+j] *= weight[j]
			}
		}
	}
	return ref, naive, y
}

// Rotary rotates contiguous heads x [B, H, S, D]: ref64 with the angle,
// its sine and cosine in float64; naive32 as Hugging Face computes it in
// float32 (inverse frequencies, angle, cos and sin each rounded to float32),
// whose angle error grows with the position. pos holds the position of each
// (b, s). The frequencies are opt.InvFreq where given (rounded to float32 for
// naive32), else theta^(-2i/r).
func Rotary(x []float32, b, h, s, d int, pos []int, opt backend.RotaryOptions) ([]float64, []float32) {
	ref := make([]float64, len(x))
	naive := make([]float32, len(x))
	r := opt.RotaryDim
	if r == 0 {
		r = d
	}
	half := r / 2
	theta := opt.EffectiveTheta()
	for bi := range b {
		for hi := range h {
			for si := range s {
				p := pos[bi*s+si]
				row := (bi*h+hi)*s + si
				xs := x[row*d : (row+1)*d]
				for j := r; j < d; j++ {
					ref[row*d+j], naive[row*d+j] = float64(xs[j]), xs[j]
				}
				for i := range half {
					a, c := i, i+half
					if opt.Style == backend.RotaryGPTJ {
						a, c = 2*i, 2*i+1
					}
					w := math.Pow(theta, -float64(2*i)/float64(r))
					inv32 := float32(1 / math.Pow(theta, float64(float32(2*i)/float32(r))))
					if opt.InvFreq != nil {
						w = opt.InvFreq[i]
						inv32 = float32(w)
					}
					sn, cs := math.Sincos(float64(p) * w)
					x1, x2 := float64(xs[a]), float64(xs[c])
					ref[row*d+a], ref[row*d+c] = x1*cs-x2*sn, x2*cs+x1*sn

					angle32 := float32(p) * inv32
					sn32, cs32 := float32(math.Sin(float64(angle32))), float32(math.Cos(float64(angle32)))
					naive[row*d+a], naive[row*d+c] = xs[a]*cs32-xs[c]*sn32, xs[c]*cs32+xs[a]*sn32
				}
			}
		}
	}
	return ref, naive
}

// GatedFeedForward computes (act(x Gate^T) * (x Up^T)) Down^T + res for rows of
// dModel elements.
func GatedFeedForward(x, gate, up, down, res []float32, dModel, dff int, act backend.Activation) ([]float64, []float32) {
	rows := 0
	if dModel > 0 {
		rows = len(x) / dModel
	}
	ref := make([]float64, rows*dModel)
	naive := make([]float32, rows*dModel)
	h64 := make([]float64, dff)
	h32 := make([]float32, dff)
	for r := range rows {
		xr := x[r*dModel : (r+1)*dModel]
		for f := range dff {
			var g64, u64 float64
			var g32, u32 float32
			for k, v := range xr {
				g64 += float64(v) * float64(gate[f*dModel+k])
				u64 += float64(v) * float64(up[f*dModel+k])
				g32 += v * gate[f*dModel+k]
				u32 += v * up[f*dModel+k]
			}
			h64[f] = Activate64(act, g64) * u64
			h32[f] = Activate32(act, g32) * u32
		}
		for c := range dModel {
			var v64 float64
			var v32 float32
			for f := range dff {
				v64 += h64[f] * float64(down[c*dff+f])
				v32 += h32[f] * down[c*dff+f]
			}
			if res != nil {
				v64 += float64(res[r*dModel+c])
				v32 += res[r*dModel+c]
			}
			ref[r*dModel+c], naive[r*dModel+c] = v64, v32
		}
	}
	return ref, naive
}
