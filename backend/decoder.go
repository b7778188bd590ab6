package backend

import (
	"fmt"
	"math"
)

// Options and shape checks of the decoder-only operations (RMSNorm, Rotary,
// GatedFeedForward), shared by every backend.

// RMSNormOptions configure RMSNorm: dst = y / sqrt(mean(y^2) + Eps) * Weight with
// y = x + Residual over the last dimension, as Llama's LlamaRMSNorm.
type RMSNormOptions struct {
	Weight   Tensor // [D]; nil means ones
	Residual Tensor // same shape as x; nil for none
	// ResidualOut receives y = x + Residual (rounded to float32), the residual
	// stream of a pre-norm block; same shape as x, nil for none. It may be x or
	// Residual, so a block updates its stream in place.
	ResidualOut Tensor
	Eps         float32 // must be > 0; 0 means 1e-6 (Llama's default)
}

// EffectiveEps is Eps, or 1e-6 where it is 0.
func (o RMSNormOptions) EffectiveEps() float32 {
	if o.Eps == 0 {
		return 1e-6
	}
	return o.Eps
}

// RotaryStyle says which dimensions of a head the rotary embedding pairs.
type RotaryStyle int

const (
	// RotaryNeoX pairs dimension i with i + r/2 of the first r dimensions
	// (rotate_half: Llama, Mistral, Qwen2, GPT-NeoX).
	RotaryNeoX RotaryStyle = iota
	// RotaryGPTJ pairs dimensions 2i and 2i+1 (GPT-J, interleaved).
	RotaryGPTJ
)

func (s RotaryStyle) String() string {
	switch s {
	case RotaryNeoX:
		return "neox"
	case RotaryGPTJ:
		return "gptj"
	}
	return fmt.Sprintf("RotaryStyle(%d)", int(s))
}

// ParseRotaryStyle reads "neox" (also "") or "gptj".
func ParseRotaryStyle(s string) (RotaryStyle, error) {
	switch s {
	case "", "neox":
		return RotaryNeoX, nil
	case "gptj":
		return RotaryGPTJ, nil
	}
	return 0, fmt.Errorf("unknown rotary style %q (want neox or gptj)", s)
}

// MaxRotaryPosition bounds the positions of Rotary: they must be exact in
// float32 (2^24).
const MaxRotaryPosition = 1 << 24

// RotaryOptions configure Rotary. Pair i (0 <= i < r/2) of the position p is
// rotated by the angle p * w_i, w_i = Theta^(-2i/r) or InvFreq[i]; dimensions
// r..D-1 pass unchanged.
type RotaryOptions struct {
	Style RotaryStyle
	// Theta is the base of the frequencies; 0 means 10000.
	Theta float64
	// InvFreq, where not nil, are the r/2 frequencies w_i themselves, in
	// float64, each finite and > 0 (Hugging Face's inv_freq, e.g. with a
	// rope_scaling: RopeScaling.InverseFrequencies); Theta must then be 0.
	// Backends carry them at float32-pair precision, so the angles keep the
	// accuracy of the unscaled case at every position.
	InvFreq []float64
	// RotaryDim is r, the rotated leading dimensions of each head; even, at
	// most the head dimension; 0 means the whole head.
	RotaryDim int
	// Offset is the position of sequence index 0 where Positions is nil.
	Offset int
	// Positions is [B, S] and holds each row's position as a float32 integer in
	// [0, MaxRotaryPosition) (left-padded batches: cumsum(mask) - 1); nil means
	// Offset + s for every batch.
	Positions Tensor
}

// EffectiveTheta is Theta, or 10000 where it is 0.
func (o RotaryOptions) EffectiveTheta() float64 {
	if o.Theta == 0 {
		return 10000
	}
	return o.Theta
}

// InverseFrequencies are the r/2 pairs' w_i in float64, InvFreq (a copy) or
// Theta^(-2i/r): the one definition of the rotation speeds every backend uses.
func (o RotaryOptions) InverseFrequencies(r int) []float64 {
	if o.InvFreq != nil {
		return append([]float64(nil), o.InvFreq...)
	}
	f := make([]float64, r/2)
	theta := o.EffectiveTheta()
	for i := range f {
		f[i] = math.Pow(theta, -float64(2*i)/float64(r))
	}
	return f
}

// RotaryDims are the sizes of a Rotary call; Rot is the rotated dimension r.
type RotaryDims struct{ Batch, Heads, Seq, Dim, Rot int }

// CheckRotary validates a Rotary call and returns its sizes.
func CheckRotary(dst, x Heads, opt RotaryOptions) (RotaryDims, error) {
	const op = "Rotary"
	if err := CheckHeads(op, "dst", dst); err != nil {
		return RotaryDims{}, err
	}
	if err := CheckHeads(op, "x", x); err != nil {
		return RotaryDims{}, err
	}
	if sameTensor(dst.T, x.T) && dst != x {
		return RotaryDims{}, ArgumentErrorf(op, "dst %s and x %s are different views of one tensor: in place, give the same view", describeHeads(dst), describeHeads(x))
	}
	if err := refuseAliases(op, "dst", dst.T, operand{"positions", opt.Positions}); err != nil {
		return RotaryDims{}, err
	}
	if dst.Batch != x.Batch || dst.Heads != x.Heads || dst.Seq != x.Seq || dst.Dim != x.Dim {
		return RotaryDims{}, ShapeErrorf(op, "dst %s and x %s differ", dst.Dims(), x.Dims())
	}
	if opt.Style != RotaryNeoX && opt.Style != RotaryGPTJ {
		return RotaryDims{}, ArgumentErrorf(op, "unknown rotary style %d", int(opt.Style))
	}
	if t := opt.Theta; t < 0 || math.IsNaN(t) || math.IsInf(t, 0) {
		return RotaryDims{}, ArgumentErrorf(op, "theta = %g, want > 0 and finite", t)
	}
	r := opt.RotaryDim
	if r == 0 {
		r = x.Dim
	}
	if r < 0 || r > x.Dim || r%2 != 0 {
		return RotaryDims{}, ArgumentErrorf(op, "rotary dim %d for head dim %d, want even and in [0, %d]", opt.RotaryDim, x.Dim, x.Dim)
	}
	if opt.InvFreq != nil {
		if opt.Theta != 0 {
			return RotaryDims{}, ArgumentErrorf(op, "theta %g given with an inverse-frequency table: give one of them", opt.Theta)
		}
		if len(opt.InvFreq) != r/2 {
			return RotaryDims{}, ShapeErrorf(op, "inverse-frequency table of %d values for rotary dim %d, want %d", len(opt.InvFreq), r, r/2)
		}
		for i, f := range opt.InvFreq {
			if !(f > 0) || math.IsInf(f, 0) {
				return RotaryDims{}, ArgumentErrorf(op, "inverse frequency %d is %g, want > 0 and finite", i, f)
			}
		}
	}
	if opt.Offset < 0 || opt.Offset > MaxRotaryPosition-x.Seq {
		return RotaryDims{}, ArgumentErrorf(op, "positions %d..%d outside [0, %d)", opt.Offset, opt.Offset+x.Seq-1, MaxRotaryPosition)
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst.T, f32}, {"x", x.T, f32}, {"positions", opt.Positions, f32}}); err != nil {
		return RotaryDims{}, err
	}
	if opt.Positions != nil {
		if opt.Offset != 0 {
			return RotaryDims{}, ArgumentErrorf(op, "offset %d given with a positions tensor", opt.Offset)
		}
		if s := opt.Positions.Shape(); !s.Equal(Shape{x.Batch, x.Seq}) {
			return RotaryDims{}, ShapeErrorf(op, "positions is %v, want [%d %d] for x %s", s, x.Batch, x.Seq, x.Dims())
		}
	}
	return RotaryDims{Batch: x.Batch, Heads: x.Heads, Seq: x.Seq, Dim: x.Dim, Rot: r}, nil
}

// CheckRMSNorm validates an RMSNorm call.
func CheckRMSNorm(dst, x Tensor, opt RMSNormOptions) (RowDims, error) {
	const op = "RMSNorm"
	d, s, err := checkNorm(op, dst, x, opt.Residual, opt.Eps)
	if err != nil {
		return RowDims{}, err
	}
	if err := optionalShape(op, "weight", opt.Weight, Shape{d.Cols}); err != nil {
		return RowDims{}, err
	}
	if err := optionalShape(op, "residual out", opt.ResidualOut, s); err != nil {
		return RowDims{}, err
	}
	if err := refuseAliases(op, "dst", dst, operand{"weight", opt.Weight}); err != nil {
		return RowDims{}, err
	}
	if opt.ResidualOut != nil {
		if err := refuseAliases(op, "residual out", opt.ResidualOut, operand{"weight", opt.Weight}, operand{"dst", dst}); err != nil {
			return RowDims{}, err
		}
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst, f32}, {"x", x, f32}, {"weight", opt.Weight, f32},
		{"residual", opt.Residual, f32}, {"residual out", opt.ResidualOut, f32}}); err != nil {
		return RowDims{}, err
	}
	return d, nil
}

// GatedFFNWeights are the three bias-free Linear layers of a gated feed-forward
// network in PyTorch's layout (Llama's mlp.gate_proj, up_proj, down_proj):
// Gate and Up [F, E], Down [E, F], of one dtype: float32, float16 or bfloat16
// (the weights as a checkpoint stores them).
type GatedFFNWeights struct {
	Gate, Up, Down Tensor
}

// CheckGatedFeedForward validates a GatedFeedForward call; DFF is F.
func CheckGatedFeedForward(dst, x Tensor, w GatedFFNWeights, opt FFNOptions) (FFNDims, error) {
	const op = "GatedFeedForward"
	if !present(x) {
		return FFNDims{}, NoTensorError(op, "x")
	}
	s := x.Shape()
	if len(s) == 0 {
		return FFNDims{}, ShapeErrorf(op, "x is a scalar, want [..., d_model]")
	}
	if err := sameShape(op, "dst", dst, s); err != nil {
		return FFNDims{}, err
	}
	r := rowsOf(s)
	for _, p := range []operand{{"Gate", w.Gate}, {"Up", w.Up}, {"Down", w.Down}} {
		if !present(p.t) {
			return FFNDims{}, NoTensorError(op, p.name)
		}
	}
	if err := refuseAliases(op, "dst", dst, operand{"Gate", w.Gate}, operand{"Up", w.Up}, operand{"Down", w.Down}); err != nil {
		return FFNDims{}, err
	}
	g := w.Gate.Shape()
	if len(g) != 2 || g[1] != r.Cols {
		return FFNDims{}, ShapeErrorf(op, "Gate is %v, want [d_ff %d] for x %v", g, r.Cols, s)
	}
	dff := g[0]
	if err := sameShape(op, "Up", w.Up, Shape{dff, r.Cols}); err != nil {
		return FFNDims{}, err
	}
	if err := sameShape(op, "Down", w.Down, Shape{r.Cols, dff}); err != nil {
		return FFNDims{}, err
	}
	if err := optionalShape(op, "residual", opt.Residual, s); err != nil {
		return FFNDims{}, err
	}
	if err := checkActivation(op, opt.Activation); err != nil {
		return FFNDims{}, err
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst, f32}, {"x", x, f32}, {"residual", opt.Residual, f32},
		{"Gate", w.Gate, bTypes}}); err != nil {
		return FFNDims{}, err
	}
	wt := w.Gate.DType()
	if err := checkDTypes(op, []dtypeRule{{"Up (as Gate)", w.Up, []DType{wt}}, {"Down (as Gate)", w.Down, []DType{wt}}}); err != nil {
		return FFNDims{}, err
	}
	return FFNDims{Rows: r.Rows, DModel: r.Cols, DFF: dff}, nil
}
