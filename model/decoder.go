package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/clattn/clattn/backend"
)

// DecoderOptions are the masks of a decoder layer.
type DecoderOptions struct {
	// Self masks the self-attention over the target: tgt_mask as Mask (or the
	// Causal flag, which generates the same mask in the kernel) and
	// tgt_key_padding_mask as KeyPadding.
	Self backend.AttentionOptions
	// Memory masks the cross-attention over the memory: memory_mask as Mask and
	// memory_key_padding_mask as KeyPadding.
	Memory backend.AttentionOptions
	// KeyPaddingKind is how both KeyPadding masks are read: backend.MaskBool
	// (nonzero = padding, the default) or backend.MaskAdditive (added to the
	// scores, as PyTorch adds a float mask). See MHAOptions.
	KeyPaddingKind backend.MaskKind
}

// self and memory are the two attentions' options.
func (o DecoderOptions) self(needWeights bool) MHAOptions {
	return MHAOptions{AttentionOptions: o.Self, KeyPaddingKind: o.KeyPaddingKind, NeedWeights: needWeights}
}

func (o DecoderOptions) memory(needWeights bool) MHAOptions {
	return MHAOptions{AttentionOptions: o.Memory, KeyPaddingKind: o.KeyPaddingKind, NeedWeights: needWeights}
}

// DecoderLayer is PyTorch's nn.TransformerDecoderLayer (dropout 0, eval mode):
// masked self-attention, cross-attention over the encoder's memory and a
// feed-forward network, each with a residual connection and LayerNorm (post-norm,
// or pre-norm with NormFirst). It is safe for concurrent use: calls are serialised.
type DecoderLayer struct {
	mu                  sync.Mutex // guards scratch (also of the attention blocks) and weights
	cfg                 LayerConfig
	be                  backend.Backend
	selfAttn, crossAttn *MultiHeadAttention
	ffn                 *FeedForward
	norm1, norm2, norm3 *LayerNorm
	weights             []backend.Tensor
	scratch             scratch
}

// LoadDecoderLayer loads the weights of one decoder layer named as PyTorch's
// state_dict under prefix: self_attn.*, multihead_attn.*, linear1.*, linear2.*,
// norm1.* .. norm3.*. Every missing, unexpected or mis-shaped tensor is named in the error.
func LoadDecoderLayer(be backend.Backend, cfg LayerConfig, w *Weights, prefix string) (*DecoderLayer, error) {
	const op = "DecoderLayer"
	if err := cfg.validate(op); err != nil {
		return nil, err
	}
	l, err := newLoader(op, be, w, prefix)
	if err != nil {
		return nil, err
	}
	d := loadDecoderLayer(l, cfg)
	ts, err := l.finish(op)
	if err != nil {
		return nil, err
	}
	d.weights = ts
	return d, nil
}

func loadDecoderLayer(l loader, cfg LayerConfig) *DecoderLayer {
	return &DecoderLayer{
		cfg:       cfg,
		be:        l.be,
		selfAttn:  loadMHA(l.sub("self_attn."), cfg.mha()),
		crossAttn: loadMHA(l.sub("multihead_attn."), cfg.mha()),
		ffn:       loadFFN(l, cfg),
		norm1:     loadLayerNorm(l.sub("norm1."), cfg.DModel, cfg.Eps, cfg.NoBias),
		norm2:     loadLayerNorm(l.sub("norm2."), cfg.DModel, cfg.Eps, cfg.NoBias),
		norm3:     loadLayerNorm(l.sub("norm3."), cfg.DModel, cfg.Eps, cfg.NoBias),
		scratch:   scratch{be: l.be},
	}
}

// Config is the layer's configuration.
func (d *DecoderLayer) Config() LayerConfig { return d.cfg }

// Forward runs the layer on tgt [B, St, E] attending to memory [B, Sm, E]
// ([S, B, E] with SeqFirst) and returns a new tensor shaped as tgt that the
// caller owns.
func (d *DecoderLayer) Forward(tgt, memory backend.Tensor, opt DecoderOptions) (backend.Tensor, error) {
	out, _, _, err := d.forwardNew(tgt, memory, opt, false)
	return out, err
}

// ForwardWithWeights is Forward that also returns the attention weights of
// every head: self-attention [B, H, St, St] and cross-attention [B, H, St, Sm].
func (d *DecoderLayer) ForwardWithWeights(tgt, memory backend.Tensor, opt DecoderOptions) (out, selfWeights, crossWeights backend.Tensor, err error) {
	return d.forwardNew(tgt, memory, opt, true)
}

func (d *DecoderLayer) forwardNew(tgt, memory backend.Tensor, opt DecoderOptions, needWeights bool) (out, selfW, crossW backend.Tensor, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	const op = "DecoderLayer"
	if err := checkPair(op, tgt, "memory", memory, d.cfg); err != nil {
		return nil, nil, nil, err
	}
	if out, err = d.be.Alloc(tgt.Shape()...); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if selfW, crossW, err = d.forward(out, tgt, memory, opt, needWeights); err != nil {
		return nil, nil, nil, errors.Join(err, out.Release())
	}
	return out, selfW, crossW, nil
}

// checkPair verifies that tgt and the tensor called name (the memory, or the
// Transformer's src) are [B, S, E] of the same batch ([S, B, E] seq-first).
func checkPair(op string, tgt backend.Tensor, name string, other backend.Tensor, cfg LayerConfig) error {
	if err := checkInput(op, "tgt", tgt, cfg.DModel, cfg.Layout); err != nil {
		return err
	}
	if err := checkInput(op, name, other, cfg.DModel, cfg.Layout); err != nil {
		return err
	}
	ts, ms := tgt.Shape(), other.Shape()
	tb, _ := cfg.Layout.dims(ts)
	mb, _ := cfg.Layout.dims(ms)
	if tb != mb {
		return backend.ShapeErrorf(op, "tgt is %v and %s is %v (%s): batch sizes differ", ts, name, ms, cfg.Layout)
	}
	return nil
}

// forward writes the layer's output into dst.
//
//	post-norm: h1 = norm1(x + sa(x)); h2 = norm2(h1 + ca(h1, mem)); dst = norm3(h2 + ffn(h2))
//	pre-norm:  t1 = x + sa(norm1(x)); t2 = t1 + ca(norm2(t1), mem); dst = t2 + ffn(norm3(t2))
//
// Every residual add is fused into an out_proj GEMM or the FFN, and so is
// every post-norm LayerNorm (their Norm option).
func (d *DecoderLayer) forward(dst, x, memory backend.Tensor, opt DecoderOptions, needWeights bool) (selfW, crossW backend.Tensor, err error) {
	keys := []string{"a", "b"} // post-norm needs two intermediates, pre-norm three
	if d.cfg.NormFirst {
		keys = append(keys, "c")
	}
	bufs := make([]backend.Tensor, len(keys))
	for i, key := range keys {
		if bufs[i], err = d.scratch.get(key, x.Shape()...); err != nil {
			return nil, nil, fmt.Errorf("DecoderLayer: %w", err)
		}
	}
	a, b := bufs[0], bufs[1]
	if d.cfg.NormFirst {
		c := bufs[2]
		err = d.norm1.apply(a, x, nil)
		if err == nil {
			selfW, err = d.selfAttn.run(b, a, nil, nil, x, nil, opt.self(needWeights)) // b = t1
		}
		if err == nil {
			err = d.norm2.apply(a, b, nil)
		}
		if err == nil {
			crossW, err = d.crossAttn.run(c, a, memory, memory, b, nil, opt.memory(needWeights)) // c = t2
		}
		if err == nil {
			err = d.norm3.apply(a, c, nil)
		}
		if err == nil {
			err = d.ffn.apply(dst, a, c, nil)
		}
	} else {
		selfW, err = d.selfAttn.run(b, x, nil, nil, x, d.norm1, opt.self(needWeights)) // b = h1
		if err == nil {
			crossW, err = d.crossAttn.run(a, b, memory, memory, b, d.norm2, opt.memory(needWeights)) // a = h2
		}
		if err == nil {
			err = d.ffn.apply(dst, a, a, d.norm3)
		}
	}
	if err != nil {
		return nil, nil, errors.Join(err, release(selfW), release(crossW))
	}
	return selfW, crossW, nil
}

// Close releases the weights and intermediate tensors; it is idempotent.
func (d *DecoderLayer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := errors.Join(releaseAll(d.weights), d.scratch.release(), d.selfAttn.Close(), d.crossAttn.Close())
	d.weights = nil
	return err
}
