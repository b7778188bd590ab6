package oracle

import (
	"math"
	"testing"

	"github.com/clattn/clattn/backend"
)

// Hand-worked values: the oracle is the reference of every other test, so it
// is checked against arithmetic done on paper.

func TestAttentionByHand(t *testing.T) {
	// One query, two keys with scores 0 and ln 3 (scale 1): weights 1/4, 3/4.
	p := &Attention{B: 1, H: 1, Sq: 1, Sk: 2, Dk: 1, Dv: 2, Scale: 1,
		Q: []float32{1}, K: []float32{0, float32(math.Log(3))}, V: []float32{4, 8, 0, -4}}
	ref, naive, dead := p.Run()
	want := []float64{1, -1} // 1/4*(4, 8) + 3/4*(0, -4)
	for i, w := range want {
		if math.Abs(ref[i]-w) > 1e-7 || math.Abs(float64(naive[i])-w) > 1e-6 {
			t.Errorf("out[%d]: ref %g, naive %g, want %g", i, ref[i], naive[i], w)
		}
	}
	if dead[0] {
		t.Error("row 0 marked dead")
	}
	// Top-left causal hides key 1 from query 0; a boolean mask then hides key 0: dead row.
	p.Causal = backend.CausalTopLeft
	if ref, _, _ := p.Run(); ref[0] != 4 || ref[1] != 8 {
		t.Errorf("causal: %v, want [4 8]", ref)
	}
	p.Mask = []float32{1, 0}
	if ref, _, dead := p.Run(); !dead[0] || ref[0] != 0 || ref[1] != 0 {
		t.Errorf("fully masked: %v dead=%v, want zeros and dead", ref, dead)
	}
	// An additive mask adds to the score: -ln 3 on key 1 gives equal weights.
	p.Causal, p.MaskKind, p.Mask = backend.NotCausal, backend.MaskAdditive, []float32{0, -float32(math.Log(3))}
	if ref, _, _ := p.Run(); math.Abs(ref[0]-2) > 1e-7 || math.Abs(ref[1]-2) > 1e-7 {
		t.Errorf("additive: %v, want [2 2]", ref)
	}
}

func TestGemmByHand(t *testing.T) {
	// [1 2; 3 4] * [5 6; 7 8]^T with alpha 2, beta 1 on dst 1, bias (1, -100), ReLU, residual 0.5.
	view := backend.Mat{Batch: 1, Rows: 2, Cols: 2, RowStride: 2}
	g := &Gemm{A: []float32{1, 2, 3, 4}, B: []float32{5, 6, 7, 8}, Dst: []float32{1, 1, 1, 1},
		Bias: []float32{1, -100}, Res: []float32{0.5, 0.5, 0.5, 0.5}, AV: view, BV: view, DV: view, RV: view,
		Opt:   backend.GemmOptions{TransB: true, Alpha: 2, Beta: 1, Activation: backend.ReLU},
		Batch: 1, M: 2, N: 2, K: 2}
	ref, naive := g.Run()
	want := []float64{2*17 + 1 + 1 + 0.5, 0.5, 2*39 + 1 + 1 + 0.5, 2*53 + 1 - 100 + 0.5}
	for i, w := range want {
		if ref[i] != w || float64(naive[i]) != w {
			t.Errorf("element %d: ref %g, naive %g, want %g", i, ref[i], naive[i], w)
		}
	}
}

func TestRowsByHand(t *testing.T) {
	// LayerNorm of (1, 3): mean 2, variance 1, so (-1, 1)/sqrt(1+eps), then gamma and beta.
	ref, _ := LayerNorm([]float32{1, 3}, nil, []float32{2, 1}, []float32{0, 10}, 2, 0)
	if ref[0] != -2 || ref[1] != 11 {
		t.Errorf("LayerNorm: %v, want [-2 11]", ref)
	}
	// FeedForward: relu(x*W1^T + b1)*W2^T + b2 + res with dModel 1, dff 2.
	ref, _ = FeedForward([]float32{2}, []float32{1, -1}, []float32{0, 1}, []float32{3, 5}, []float32{1}, []float32{10}, 1, 2, backend.ReLU)
	if ref[0] != 3*2+5*0+1+10 {
		t.Errorf("FeedForward: %v, want [17]", ref)
	}
	// The encoding at position 1 of d = 2: (sin 1, cos 1); with start 1 and x = (1, 1) * 2.
	ref, _ = Positional([]float32{1, 1}, 2, 1, 2, 1, 2)
	if math.Abs(ref[0]-(math.Sin(1)+2)) > 1e-15 || math.Abs(ref[1]-(math.Cos(1)+2)) > 1e-15 {
		t.Errorf("Positional: %v, want [sin(1)+2 cos(1)+2]", ref)
	}
}

func TestDecoderOpsByHand(t *testing.T) {
	// RMSNorm of (3, 4) + residual (0, 0): mean square 12.5, so (3, 4)/sqrt(12.5), times the weight.
	ref, _, y := RMSNorm([]float32{3, 4}, []float32{0, 0}, []float32{1, 2}, 2, 0)
	if r := math.Sqrt(12.5); math.Abs(ref[0]-3/r) > 1e-15 || math.Abs(ref[1]-8/r) > 1e-15 || y[0] != 3 || y[1] != 4 {
		t.Errorf("RMSNorm: %v (residual stream %v), want [3 8]/sqrt(12.5)", ref, y)
	}
	// Rotary of (1, 0, 5) (head dim 3, rotary dim 2) at position 2: pair (0, 1)
	// turns by 2 rad, dimension 2 passes.
	ref, _ = Rotary([]float32{1, 0, 5}, 1, 1, 1, 3, []int{2}, backend.RotaryOptions{RotaryDim: 2})
	if math.Abs(ref[0]-math.Cos(2)) > 1e-15 || math.Abs(ref[1]-math.Sin(2)) > 1e-15 || ref[2] != 5 {
		t.Errorf("Rotary: %v, want [cos 2, sin 2, 5]", ref)
	}
	// The same with the table w_0 = 0.25: the pair turns by 0.5 rad.
	ref, _ = Rotary([]float32{1, 0, 5}, 1, 1, 1, 3, []int{2}, backend.RotaryOptions{RotaryDim: 2, InvFreq: []float64{0.25}})
	if math.Abs(ref[0]-math.Cos(0.5)) > 1e-15 || math.Abs(ref[1]-math.Sin(0.5)) > 1e-15 || ref[2] != 5 {
		t.Errorf("Rotary with InvFreq [0.25]: %v, want [cos 0.5, sin 0.5, 5]", ref)
	}
	// GatedFeedForward with d_model 1, d_ff 1: down * silu(gate*x) * (up*x) + res.
	ref, _ = GatedFeedForward([]float32{2}, []float32{1}, []float32{3}, []float32{0.5}, []float32{1}, 1, 1, backend.SiLU)
	if want := 0.5*(2/(1+math.Exp(-2)))*6 + 1; math.Abs(ref[0]-want) > 1e-15 {
		t.Errorf("GatedFeedForward: %v, want %v", ref, want)
	}
}
