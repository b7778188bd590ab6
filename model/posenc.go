package model

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// PositionalEncoding is the sinusoidal encoding of "Attention Is All You Need":
// PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
type PositionalEncoding struct {
	be     backend.Backend
	dModel int
	// InputScale multiplies x before the encoding is added in Forward; 0 means 1
	// (the original Transformer scales embeddings by sqrt(d_model)).
	InputScale float32
}

// NewPositionalEncoding makes the encoding for dModel features.
func NewPositionalEncoding(be backend.Backend, dModel int) (*PositionalEncoding, error) {
	if dModel <= 0 {
		return nil, backend.ShapeErrorf("PositionalEncoding", "d_model = %d, want > 0", dModel)
	}
	if be == nil {
		return nil, backend.ArgumentErrorf("PositionalEncoding", "no backend")
	}
	return &PositionalEncoding{be: be, dModel: dModel}, nil
}

// Table returns the encoding of positions start .. start+seq-1 as a new
// [seq, d_model] tensor the caller owns.
func (p *PositionalEncoding) Table(seq, start int) (backend.Tensor, error) {
	if seq <= 0 {
		return nil, backend.ShapeErrorf("PositionalEncoding", "seq = %d, want > 0", seq)
	}
	dst, err := p.be.Alloc(seq, p.dModel)
	if err != nil {
		return nil, fmt.Errorf("PositionalEncoding: %w", err)
	}
	if err := p.be.PositionalEncoding(dst, nil, backend.PositionalOptions{Start: start}); err != nil {
		return nil, joinRelease(err, dst)
	}
	return dst, nil
}

// Forward returns x*InputScale + PE for x [..., seq, d_model] whose first
// position is start, as a new tensor the caller owns.
func (p *PositionalEncoding) Forward(x backend.Tensor, start int) (backend.Tensor, error) {
	if x == nil {
		return nil, backend.NoTensorError("PositionalEncoding", "x")
	}
	s := x.Shape()
	if len(s) < 2 || s[len(s)-1] != p.dModel {
		return nil, backend.ShapeErrorf("PositionalEncoding", "x is %v, want [... seq %d]", s, p.dModel)
	}
	dst, err := p.be.Alloc(s...)
	if err != nil {
		return nil, fmt.Errorf("PositionalEncoding: %w", err)
	}
	opt := backend.PositionalOptions{Start: start, InputScale: p.InputScale}
	if err := p.be.PositionalEncoding(dst, x, opt); err != nil {
		return nil, joinRelease(err, dst)
	}
	return dst, nil
}
