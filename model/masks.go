package model

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// MHAOptions are the arguments of one nn.MultiheadAttention call besides its
// inputs.
//
// Masks follow nn.MultiheadAttention: Mask (attn_mask) is [Sq, Sk] (shared by
// every batch and head), [B*H, Sq, Sk] (one per batch and head, batch-major, as
// PyTorch's 3-D form) or [B, H, Sq, Sk]; boolean masks (MaskKind
// backend.MaskBool) hold 1 where a key is not allowed, additive ones
// (backend.MaskAdditive) are added to the scores and may hold -Inf. KeyPadding
// (key_padding_mask) is [B, Sk], read as KeyPaddingKind says. A position is out
// where any mask says so. Where every key of a query is masked its output and
// weights are zeros (as PyTorch >= 2.5; older PyTorch gives NaN).
//
// The backend takes masks of [Sq, Sk] or [B, H, Sq, Sk] and boolean key
// padding; a [B*H, Sq, Sk] mask, masks padded with unmasked columns for the
// keys add_bias_kv and add_zero_attn append, and an additive key padding mask
// (merged into an additive [B, H, Sq, Sk] mask, as PyTorch merges it) are
// written on the device into scratch tensors of the block at each call, by
// small GEMMs that copy every value exactly (-Inf included).
type MHAOptions struct {
	backend.AttentionOptions
	// KeyPaddingKind is how KeyPadding is read: backend.MaskBool (nonzero =
	// padding, the default; the score is replaced, so NaN in a padded key's
	// input cannot leak) or backend.MaskAdditive (added to every query's scores
	// of that key, as PyTorch adds it: a NaN score plus -Inf stays NaN). An
	// additive key padding mask cannot be combined with a boolean Mask
	// (PyTorch deprecates mixing the two kinds).
	KeyPaddingKind backend.MaskKind
	// NeedWeights also returns the attention weights, computed by the unfused
	// path (Scores -> Softmax -> AttendValues).
	NeedWeights bool
	// AverageWeights makes NeedWeights return the weights averaged over the
	// heads, [B, Sq, Sk], instead of [B, H, Sq, Sk] (PyTorch's
	// average_attn_weights, which PyTorch defaults to true).
	AverageWeights bool
}

// KeyPaddingKindOf is the one kind of the key padding masks in opts (MaskBool
// where none has one), as EncoderOptions, DecoderOptions, TransformerOptions
// and Inputs take it: they read every key padding mask of a call as one kind.
// It fails, wrapping backend.ErrArgument, where two masks differ in kind.
func KeyPaddingKindOf(opts ...MHAOptions) (backend.MaskKind, error) {
	kind, found := backend.MaskBool, false
	for _, o := range opts {
		if o.KeyPadding == nil {
			continue
		}
		if found && o.KeyPaddingKind != kind {
			return kind, backend.ArgumentErrorf("model", "key padding masks of two kinds (%s and %s): a call reads every key padding mask as one kind; give them all boolean or all additive", kind, o.KeyPaddingKind)
		}
		kind, found = o.KeyPaddingKind, true
	}
	return kind, nil
}

// consts holds all-zero and all-one device vectors that the mask operations
// use as GEMM operands; they grow on demand and are never written otherwise.
type consts struct {
	be          backend.Backend
	zeros, ones backend.Tensor
}

// vector returns a tensor of at least n elements of value v (0 or 1).
func (c *consts) vector(n int, one bool) (backend.Tensor, error) {
	t := &c.zeros
	if one {
		t = &c.ones
	}
	if *t != nil && (*t).Shape().Numel() >= n {
		return *t, nil
	}
	if err := release(*t); err != nil {
		return nil, err
	}
	*t = nil
	data := make([]float32, max(n, 1))
	if one {
		for i := range data {
			data[i] = 1
		}
	}
	nt, err := c.be.Upload(data, len(data))
	if err != nil {
		return nil, err
	}
	*t = nt
	return nt, nil
}

// release frees the vectors; it is idempotent.
func (c *consts) release() error {
	err := joinRelease(release(c.zeros), c.ones)
	c.zeros, c.ones = nil, nil
	return err
}

// copyInto writes src into dst (same batch, rows and columns), or zeros where
// src is nil, on the device: dst = 0*0 + src, a GEMM of inner size 1 whose
// residual is src, exact for every value (-Inf and NaN included).
func (c *consts) copyInto(dst backend.Mat, src *backend.Mat) error {
	z, err := c.vector(max(dst.Rows, dst.Cols), false)
	if err != nil {
		return err
	}
	a := backend.Mat{T: z, Batch: 1, Rows: dst.Rows, Cols: 1, RowStride: 1}
	b := backend.Mat{T: z, Batch: 1, Rows: 1, Cols: dst.Cols, RowStride: dst.Cols}
	return c.be.Gemm(dst, a, b, backend.GemmOptions{Residual: src})
}

// padColumns copies t [..., n] into the first n columns of dst [..., n+extra]
// and zeros the rest: PyTorch's F.pad(mask, (0, extra)).
func (c *consts) padColumns(dst, t backend.Tensor) error {
	src := backend.RowsOf(t)
	d := backend.RowsOf(dst)
	left := d
	left.Cols = src.Cols
	if err := c.copyInto(left, &src); err != nil {
		return err
	}
	if d.Cols == src.Cols {
		return nil
	}
	right := d
	right.Offset, right.Cols = src.Cols, d.Cols-src.Cols
	return c.copyInto(right, nil)
}

// prepareMasks checks the masks of opt against an attention of batch b, h
// heads, sq queries and sk keys (before extra keys are appended), and returns
// them as the backend takes them for sk+extra keys: the extra keys (bias_k,
// the zero key) are never masked, a [B*H, Sq, Sk] mask is copied into
// [B, H, Sq, Sk], and an additive key padding mask is merged into an additive
// [B, H, Sq, Sk] mask. Copies are made on the device into m's scratch.
func (m *MultiHeadAttention) prepareMasks(opt MHAOptions, b, h, sq, sk, extra int) (backend.AttentionOptions, error) {
	const op = "MultiHeadAttention"
	out := opt.AttentionOptions
	if opt.MaskKind != backend.MaskBool && opt.MaskKind != backend.MaskAdditive {
		return out, backend.ArgumentErrorf(op, "unknown mask kind %d", int(opt.MaskKind))
	}
	if opt.KeyPaddingKind != backend.MaskBool && opt.KeyPaddingKind != backend.MaskAdditive {
		return out, backend.ArgumentErrorf(op, "unknown key padding mask kind %d", int(opt.KeyPaddingKind))
	}
	if extra > 0 && opt.Causal != backend.NotCausal {
		return out, backend.ArgumentErrorf(op, "a causal flag with add_bias_kv or add_zero_attn: pass the causal mask as Mask [%d %d] (it is padded for the extra keys as PyTorch pads it)", sq, sk)
	}
	skx := sk + extra
	if opt.Mask != nil {
		s := opt.Mask.Shape()
		switch {
		case s.Equal(backend.Shape{sq, sk}), s.Equal(backend.Shape{b, h, sq, sk}):
		case s.Equal(backend.Shape{b * h, sq, sk}):
		default:
			return out, backend.ShapeErrorf(op, "attn_mask is %v, want [%d %d] (Sq Sk), [%d %d %d] (B*H Sq Sk) or [%d %d %d %d] (B H Sq Sk)",
				s, sq, sk, b*h, sq, sk, b, h, sq, sk)
		}
		if len(s) == 3 || extra > 0 {
			shape := []int{sq, skx}
			if len(s) > 2 {
				shape = []int{b, h, sq, skx}
			}
			t, err := m.scratch.get("attn_mask", shape...)
			if err != nil {
				return out, fmt.Errorf("%s: %w", op, err)
			}
			if err := m.consts.padColumns(t, opt.Mask); err != nil {
				return out, fmt.Errorf("%s: attn_mask: %w", op, err)
			}
			out.Mask = t
		}
	}
	if opt.KeyPadding == nil {
		return out, nil
	}
	if s := opt.KeyPadding.Shape(); !s.Equal(backend.Shape{b, sk}) {
		return out, backend.ShapeErrorf(op, "key_padding_mask is %v, want [%d %d] (B Sk)", s, b, sk)
	}
	kp := opt.KeyPadding
	if extra > 0 {
		t, err := m.scratch.get("key_padding_mask", b, skx)
		if err != nil {
			return out, fmt.Errorf("%s: %w", op, err)
		}
		if err := m.consts.padColumns(t, kp); err != nil {
			return out, fmt.Errorf("%s: key_padding_mask: %w", op, err)
		}
		kp = t
	}
	if opt.KeyPaddingKind == backend.MaskBool {
		out.KeyPadding = kp
		return out, nil
	}
	if out.Mask != nil && out.MaskKind == backend.MaskBool {
		return out, backend.ArgumentErrorf(op, "an additive key_padding_mask with a boolean attn_mask: give both masks as the same kind")
	}
	merged, err := m.mergeKeyPadding(kp, out.Mask, b, h, sq, skx)
	if err != nil {
		return out, err
	}
	out.Mask, out.MaskKind, out.KeyPadding = merged, backend.MaskAdditive, nil
	return out, nil
}

// mergeKeyPadding returns the additive [B, H, Sq, Sk] mask
// mask[b,h,i,j] + kp[b,j] (mask may be nil, [Sq, Sk] or [B, H, Sq, Sk]): for each
// batch one GEMM ones[Sq,1] x kp[b] [1,Sk] with the mask as its residual.
func (m *MultiHeadAttention) mergeKeyPadding(kp, mask backend.Tensor, b, h, sq, sk int) (backend.Tensor, error) {
	const op = "MultiHeadAttention"
	merged, err := m.scratch.get("merged_mask", b, h, sq, sk)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ones, err := m.consts.vector(sq, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	a := backend.Mat{T: ones, Batch: 1, Rows: sq, Cols: 1, RowStride: 1}
	plane := sq * sk
	for i := range b {
		dst := backend.Mat{T: merged, Batch: h, Rows: sq, Cols: sk, Offset: i * h * plane, BatchStride: plane, RowStride: sk}
		row := backend.Mat{T: kp, Batch: 1, Rows: 1, Cols: sk, Offset: i * sk, BatchStride: sk, RowStride: sk}
		var opt backend.GemmOptions
		if mask != nil {
			r := backend.Mat{T: mask, Batch: h, Rows: sq, Cols: sk, RowStride: sk}
			if len(mask.Shape()) == 4 {
				r.Offset, r.BatchStride = i*h*plane, plane
			}
			opt.Residual = &r
		}
		if err := m.be.Gemm(dst, a, row, opt); err != nil {
			return nil, fmt.Errorf("%s: merging key_padding_mask: %w", op, err)
		}
	}
	return merged, nil
}

// averageHeads writes the mean over heads of w [B, H, Sq, Sk] into a new
// [B, Sq, Sk] tensor: one GEMM ones[1,H] x w[b] [H, Sq*Sk] scaled by 1/H.
func (m *MultiHeadAttention) averageHeads(w backend.Tensor) (backend.Tensor, error) {
	const op = "MultiHeadAttention"
	s := w.Shape()
	b, h, plane := s[0], s[1], s[2]*s[3]
	avg, err := m.be.Alloc(b, s[2], s[3])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ones, err := m.consts.vector(h, true)
	if err == nil {
		err = m.be.Gemm(
			backend.Mat{T: avg, Batch: b, Rows: 1, Cols: plane, BatchStride: plane, RowStride: plane},
			backend.Mat{T: ones, Batch: 1, Rows: 1, Cols: h, RowStride: h},
			backend.Mat{T: w, Batch: b, Rows: h, Cols: plane, BatchStride: h * plane, RowStride: plane},
			backend.GemmOptions{Alpha: 1 / float32(h)})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: averaging the weights over heads: %w", op, joinRelease(err, avg))
	}
	return avg, nil
}
