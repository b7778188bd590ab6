package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/clattn/clattn/backend"
)

// EncoderLayer is PyTorch's nn.TransformerEncoderLayer (dropout 0, eval mode):
// self-attention and a feed-forward network, each with a residual connection and
// LayerNorm (after the residual, or before the sub-layer with NormFirst).
// Activations stay on the device. It is safe for concurrent use: calls are serialised.
type EncoderLayer struct {
	mu           sync.Mutex // guards scratch (also of selfAttn) and weights; Encoder holds it too
	cfg          LayerConfig
	be           backend.Backend
	selfAttn     *MultiHeadAttention
	ffn          *FeedForward
	norm1, norm2 *LayerNorm
	weights      []backend.Tensor
	scratch      scratch
}

// LoadEncoderLayer loads the weights of one encoder layer named as PyTorch's
// state_dict under prefix (e.g. "layers.3."): self_attn.*, linear1.*, linear2.*,
// norm1.*, norm2.*. Every missing, unexpected or mis-shaped tensor is named in the error.
func LoadEncoderLayer(be backend.Backend, cfg LayerConfig, w *Weights, prefix string) (*EncoderLayer, error) {
	const op = "EncoderLayer"
	if err := cfg.validate(op); err != nil {
		return nil, err
	}
	l, err := newLoader(op, be, w, prefix)
	if err != nil {
		return nil, err
	}
	layer := loadEncoderLayer(l, cfg)
	ts, err := l.finish(op)
	if err != nil {
		return nil, err
	}
	layer.weights = ts
	return layer, nil
}

func loadEncoderLayer(l loader, cfg LayerConfig) *EncoderLayer {
	return &EncoderLayer{
		cfg:      cfg,
		be:       l.be,
		selfAttn: loadMHA(l.sub("self_attn."), cfg.mha()),
		ffn:      loadFFN(l, cfg),
		norm1:    loadLayerNorm(l.sub("norm1."), cfg.DModel, cfg.Eps, cfg.NoBias),
		norm2:    loadLayerNorm(l.sub("norm2."), cfg.DModel, cfg.Eps, cfg.NoBias),
		scratch:  scratch{be: l.be},
	}
}

// Config is the layer's configuration.
func (e *EncoderLayer) Config() LayerConfig { return e.cfg }

// EncoderOptions are the masks of an encoder layer or stack: src_mask as Mask
// (or the Causal flag) and src_key_padding_mask as KeyPadding, read as
// KeyPaddingKind says: backend.MaskBool (nonzero = padding, the default) or
// backend.MaskAdditive (added to the scores, as PyTorch adds a float mask). See
// MHAOptions.
type EncoderOptions struct {
	backend.AttentionOptions
	KeyPaddingKind backend.MaskKind
}

// mha is the self-attention's options.
func (o EncoderOptions) mha(needWeights bool) MHAOptions {
	return MHAOptions{AttentionOptions: o.AttentionOptions, KeyPaddingKind: o.KeyPaddingKind, NeedWeights: needWeights}
}

// Forward runs the layer on x [B, S, E] ([S, B, E] with SeqFirst) with the
// self-attention masks and returns a new tensor shaped as x that the caller owns.
func (e *EncoderLayer) Forward(x backend.Tensor, masks EncoderOptions) (backend.Tensor, error) {
	out, _, err := e.forwardNew(x, masks, false)
	return out, err
}

// ForwardWithWeights is Forward that also returns the self-attention weights
// [B, H, S, S] of every head (computed by the unfused path).
func (e *EncoderLayer) ForwardWithWeights(x backend.Tensor, masks EncoderOptions) (out, weights backend.Tensor, err error) {
	return e.forwardNew(x, masks, true)
}

func (e *EncoderLayer) forwardNew(x backend.Tensor, masks EncoderOptions, needWeights bool) (backend.Tensor, backend.Tensor, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := checkInput("EncoderLayer", "x", x, e.cfg.DModel, e.cfg.Layout); err != nil {
		return nil, nil, err
	}
	out, err := e.be.Alloc(x.Shape()...)
	if err != nil {
		return nil, nil, fmt.Errorf("EncoderLayer: %w", err)
	}
	weights, err := e.forward(out, x, masks, needWeights)
	if err != nil {
		return nil, nil, errors.Join(err, out.Release())
	}
	return out, weights, nil
}

// forward writes the layer's output for x into dst (not x).
//
//	post-norm: h = norm1(x + attn(x));        dst = norm2(h + ffn(h))
//	pre-norm:  t = x + attn(norm1(x));        dst = t + ffn(norm2(t))
//
// Every residual add is fused into the out_proj GEMM or the FFN, and so is
// every post-norm LayerNorm (their Norm option).
func (e *EncoderLayer) forward(dst, x backend.Tensor, masks EncoderOptions, needWeights bool) (backend.Tensor, error) {
	keys := []string{"b"} // post-norm needs one intermediate, pre-norm two
	if e.cfg.NormFirst {
		keys = append(keys, "a")
	}
	bufs := make([]backend.Tensor, len(keys))
	for i, key := range keys {
		t, err := e.scratch.get(key, x.Shape()...)
		if err != nil {
			return nil, fmt.Errorf("EncoderLayer: %w", err)
		}
		bufs[i] = t
	}
	b := bufs[0]
	var weights backend.Tensor
	var err error
	if e.cfg.NormFirst {
		a := bufs[1]
		err = e.norm1.apply(a, x, nil)
		if err == nil {
			weights, err = e.selfAttn.run(b, a, nil, nil, x, nil, masks.mha(needWeights)) // b = t
		}
		if err == nil {
			err = e.norm2.apply(a, b, nil)
		}
		if err == nil {
			err = e.ffn.apply(dst, a, b, nil)
		}
	} else {
		weights, err = e.selfAttn.run(b, x, nil, nil, x, e.norm1, masks.mha(needWeights)) // b = h
		if err == nil {
			err = e.ffn.apply(dst, b, b, e.norm2)
		}
	}
	if err != nil {
		return nil, errors.Join(err, release(weights))
	}
	return weights, nil
}

// Close releases the weights and intermediate tensors; it is idempotent.
func (e *EncoderLayer) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := errors.Join(releaseAll(e.weights), e.scratch.release(), e.selfAttn.Close())
	e.weights = nil
	return err
}
