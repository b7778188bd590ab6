package backend

import (
	"fmt"
	"math"
)

// Mat is a strided batch of row-major matrices inside a tensor: element (b, i, j)
// lies at Offset + b*BatchStride + i*RowStride + j. A BatchStride of 0 repeats one
// matrix for every batch index (a shared weight, say).
type Mat struct {
	T                              Tensor
	Batch, Rows, Cols              int
	Offset, BatchStride, RowStride int
}

// MatOf views t as a batch of matrices: its last two dimensions are rows and
// columns, the leading ones are flattened into the batch; a 1-D tensor is one row.
func MatOf(t Tensor) Mat {
	if t == nil {
		return Mat{} // the op's check reports the missing tensor
	}
	s := t.Shape()
	rows, cols := 1, 1
	switch len(s) {
	case 0:
	case 1:
		cols = s[0]
	default:
		rows, cols = s[len(s)-2], s[len(s)-1]
	}
	batch := 1
	if len(s) > 2 {
		batch = Shape(s[:len(s)-2]).Numel()
	}
	return Mat{T: t, Batch: batch, Rows: rows, Cols: cols, BatchStride: rows * cols, RowStride: cols}
}

// RowsOf views t [..., cols] as one matrix of all its rows (the leading dimensions
// flattened), the usual input of a Linear layer.
func RowsOf(t Tensor) Mat {
	if t == nil {
		return Mat{} // the op's check reports the missing tensor
	}
	s := t.Shape()
	cols := 1
	if len(s) > 0 {
		cols = s[len(s)-1]
	}
	rows := 0
	if cols > 0 {
		rows = s.Numel() / cols
	} else if len(s) > 0 {
		rows = Shape(s[:len(s)-1]).Numel()
	}
	return Mat{T: t, Batch: 1, Rows: rows, Cols: cols, BatchStride: rows * cols, RowStride: cols}
}

// Heads is a [batch, heads, seq, dim] view into a tensor: element (b, h, s, d) lies
// at Offset + b*BatchStride + h*HeadStride + s*SeqStride + d. Heads of a packed
// projection are views, not copies (see PackedHeads).
type Heads struct {
	T                                          Tensor
	Batch, Heads, Seq, Dim                     int
	Offset, BatchStride, HeadStride, SeqStride int
}

// HeadsOf views a contiguous [B, H, S, D] tensor.
func HeadsOf(t Tensor) (Heads, error) {
	if t == nil {
		return Heads{}, NoTensorError("HeadsOf", "t")
	}
	s := t.Shape()
	if len(s) != 4 {
		return Heads{}, ShapeErrorf("HeadsOf", "want a [batch heads seq dim] tensor, got %v", s)
	}
	return Heads{T: t, Batch: s[0], Heads: s[1], Seq: s[2], Dim: s[3],
		BatchStride: s[1] * s[2] * s[3], HeadStride: s[2] * s[3], SeqStride: s[3]}, nil
}

// PackedHeads views heads*dim columns starting at column colOffset of a
// [batch, seq, width] tensor as [batch, heads, seq, dim]: head h is columns
// colOffset+h*dim ... colOffset+(h+1)*dim-1. This is how the Q, K and V of a packed
// in_proj output (width 3E, offsets 0, E, 2E) and the concatenated heads of an
// attention output (width E, offset 0) are addressed without copies.
func PackedHeads(t Tensor, heads, dim, colOffset int) (Heads, error) {
	if t == nil {
		return Heads{}, NoTensorError("PackedHeads", "t")
	}
	s := t.Shape()
	if len(s) != 3 {
		return Heads{}, ShapeErrorf("PackedHeads", "want a [batch seq width] tensor, got %v", s)
	}
	if heads <= 0 || dim <= 0 {
		return Heads{}, ShapeErrorf("PackedHeads", "heads = %d, dim = %d, want both > 0", heads, dim)
	}
	width := s[2]
	if colOffset < 0 || colOffset+heads*dim > width {
		return Heads{}, ShapeErrorf("PackedHeads", "columns %d..%d (%d heads of %d) outside width %d of %v",
			colOffset, colOffset+heads*dim-1, heads, dim, width, s)
	}
	return Heads{T: t, Batch: s[0], Heads: heads, Seq: s[1], Dim: dim,
		Offset: colOffset, BatchStride: s[1] * width, HeadStride: dim, SeqStride: width}, nil
}

// CausalMode selects the causal mask generated inside the attention kernels.
type CausalMode int

const (
	// NotCausal generates no causal mask.
	NotCausal CausalMode = iota
	// CausalTopLeft lets query i see keys j <= i (PyTorch's is_causal).
	CausalTopLeft
	// CausalBottomRight aligns the last query with the last key: query i sees
	// keys j <= i + Sk - Sq (decoding with a KV cache).
	CausalBottomRight
)

// String is "none", "topleft" or "bottomright" (the one spelling of test and report names).
func (c CausalMode) String() string {
	switch c {
	case NotCausal:
		return "none"
	case CausalTopLeft:
		return "topleft"
	case CausalBottomRight:
		return "bottomright"
	}
	return fmt.Sprintf("CausalMode(%d)", int(c))
}

// MaskKind says how AttentionOptions.Mask is read.
type MaskKind int

const (
	// MaskBool: a nonzero entry masks the position out (PyTorch nn.MultiheadAttention's
	// convention, 1 = not allowed); the score is replaced, so NaN there cannot leak.
	MaskBool MaskKind = iota
	// MaskAdditive: the entry is added to the score; -Inf masks the position out.
	MaskAdditive
)

// String is "bool" or "additive".
func (k MaskKind) String() string {
	switch k {
	case MaskBool:
		return "bool"
	case MaskAdditive:
		return "additive"
	}
	return fmt.Sprintf("MaskKind(%d)", int(k))
}

// AttentionOptions are the scale and masks of scaled dot-product attention.
// Masks combine: a position is out if any of them masks it.
type AttentionOptions struct {
	// Scale multiplies q*k^T; 0 means 1/sqrt(head dim). Softmax ignores it
	// (Scores has already applied it).
	Scale float32
	// Causal generates a causal mask in the kernel.
	Causal CausalMode
	// Mask is [Sq, Sk] (shared by every batch and head) or [B, H, Sq, Sk]; nil for none.
	Mask     Tensor
	MaskKind MaskKind
	// KeyPadding is [B, Sk]; a nonzero entry means key j of batch b is padding, ignored.
	KeyPadding Tensor
}

// EffectiveScale is opt.Scale, or 1/sqrt(dim) where it is 0.
func (o AttentionOptions) EffectiveScale(dim int) float32 {
	if o.Scale != 0 {
		return o.Scale
	}
	if dim == 0 {
		return 1
	}
	return float32(1 / math.Sqrt(float64(dim)))
}

// GemmOptions configure Gemm. The epilogue runs in this order:
//
//	v = Alpha*sum_k op(a)[i,k]*op(b)[k,j] + Beta*dst[i,j] + Bias[j]
//	dst[i,j] = Activation(v) + Residual[i,j]
type GemmOptions struct {
	TransA, TransB bool
	// Alpha scales the product; 0 means 1.
	Alpha float32
	// Beta scales the previous dst; 0 means dst is not read (NaN there does not leak).
	Beta       float32
	Bias       Tensor // [N]; nil for none
	Activation Activation
	Residual   *Mat // same batch, rows and columns as dst; nil for none
	// Norm, where set, normalises each row of dst after the residual, as
	// LayerNorm(dst, dst, *Norm) would, in the same call: the post-norm
	// sublayer LayerNorm(x + f(x)), its rows normalised while still in the
	// cache. Norm's own Residual must be nil, and dst must be the rows of
	// its whole tensor (RowsOf or MatOf), so that a row of dst is one of the
	// tensor's.
	Norm *LayerNormOptions
}

// EffectiveAlpha is Alpha, or 1 where it is 0.
func (o GemmOptions) EffectiveAlpha() float32 {
	if o.Alpha == 0 {
		return 1
	}
	return o.Alpha
}

// LayerNormOptions configure LayerNorm: dst = (y - mean(y)) / sqrt(var(y) + Eps) * Gamma + Beta
// with y = x + Residual, over the last dimension; the variance is the biased one (as PyTorch).
type LayerNormOptions struct {
	Gamma, Beta Tensor  // [D]; nil means ones and zeros
	Residual    Tensor  // same shape as x; nil for none
	Eps         float32 // must be > 0; 0 means 1e-5
}

// EffectiveEps is Eps, or PyTorch's default 1e-5 where it is 0.
func (o LayerNormOptions) EffectiveEps() float32 {
	if o.Eps == 0 {
		return 1e-5
	}
	return o.Eps
}

// FFNWeights are the two Linear layers of a position-wise feed-forward network in
// PyTorch's layout: W1 [dFF, dModel], B1 [dFF], W2 [dModel, dFF], B2 [dModel].
// Biases may be nil.
type FFNWeights struct {
	W1, B1, W2, B2 Tensor
}

// FFNOptions configure FeedForward.
type FFNOptions struct {
	Activation Activation // ReLU or GELU (Identity allowed)
	Residual   Tensor     // same shape as x and dst; nil for none
	// Norm, where set, normalises each row of dst after the residual, as
	// GemmOptions.Norm does.
	Norm *LayerNormOptions
}

// PositionalOptions configure PositionalEncoding.
type PositionalOptions struct {
	// Start is the position of the first row (for decoding step by step).
	Start int
	// InputScale multiplies x before the encoding is added; 0 means 1
	// (the original Transformer uses sqrt(d_model)).
	InputScale float32
}

// KVHeads views the first length positions of a KV cache [B, Hkv, Cap, D] (see
// Backend.WriteKV) as heads [B, Hkv, length, D], without copying: the K or V
// operand of attention over what has been written so far.
func KVHeads(cache Tensor, length int) (Heads, error) {
	const op = "KVHeads"
	if cache == nil {
		return Heads{}, NoTensorError(op, "cache")
	}
	s := cache.Shape()
	if len(s) != 4 {
		return Heads{}, ShapeErrorf(op, "cache is %v, want [batch heads_kv capacity dim]", s)
	}
	if length < 0 || length > s[2] {
		return Heads{}, ShapeErrorf(op, "length %d outside capacity %d of cache %v", length, s[2], s)
	}
	return Heads{T: cache, Batch: s[0], Heads: s[1], Seq: length, Dim: s[3],
		BatchStride: s[1] * s[2] * s[3], HeadStride: s[2] * s[3], SeqStride: s[3]}, nil
}
