package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/clattn/clattn/backend"
)

// TransformerConfig is PyTorch's nn.Transformer (dropout 0): an encoder stack
// and a decoder stack, each ending in its own LayerNorm.
type TransformerConfig struct {
	// Layer is shared by every encoder and decoder layer; the two final
	// LayerNorms use its Eps and NoBias, as nn.Transformer builds them.
	Layer                        LayerConfig
	EncoderLayers, DecoderLayers int
}

// TransformerOptions are the masks of nn.Transformer.forward.
type TransformerOptions struct {
	// Src masks the encoder's self-attention: src_mask as Mask,
	// src_key_padding_mask as KeyPadding.
	Src backend.AttentionOptions
	// Tgt masks the decoder's self-attention: tgt_mask as Mask (or the Causal
	// flag), tgt_key_padding_mask as KeyPadding.
	Tgt backend.AttentionOptions
	// Memory masks the decoder's attention over the encoder's output:
	// memory_mask as Mask, memory_key_padding_mask as KeyPadding. As in
	// PyTorch, src_key_padding_mask is not reused here: pass it again to keep
	// the decoder off padded source positions.
	Memory backend.AttentionOptions
	// KeyPaddingKind is how every KeyPadding mask is read: backend.MaskBool
	// (nonzero = padding, the default) or backend.MaskAdditive (added to the
	// scores, as PyTorch adds a float mask). See MHAOptions.
	KeyPaddingKind backend.MaskKind
}

// Transformer is PyTorch's nn.Transformer: memory = encoder(src), out =
// decoder(tgt, memory). It is safe for concurrent use: calls are serialised.
type Transformer struct {
	mu      sync.Mutex // guards scratch and weights; taken before the stacks' mutexes
	cfg     TransformerConfig
	be      backend.Backend
	encoder *Encoder
	decoder *Decoder
	weights []backend.Tensor
	scratch scratch
}

// LoadTransformer loads nn.Transformer's state_dict under prefix:
// encoder.layers.N.*, encoder.norm.*, decoder.layers.N.*, decoder.norm.*.
// Every missing, unexpected or mis-shaped tensor is named in the error.
func LoadTransformer(be backend.Backend, cfg TransformerConfig, w *Weights, prefix string) (*Transformer, error) {
	const op = "Transformer"
	for _, n := range []int{cfg.EncoderLayers, cfg.DecoderLayers} {
		if err := validateStack(op, cfg.Layer, n, cfg.Layer.Eps); err != nil {
			return nil, err
		}
	}
	l, err := newLoader(op, be, w, prefix)
	if err != nil {
		return nil, err
	}
	t := &Transformer{cfg: cfg, be: be, scratch: scratch{be: be},
		encoder: loadEncoder(l.sub("encoder."), EncoderConfig{Layer: cfg.Layer, Layers: cfg.EncoderLayers, FinalNorm: true, FinalNormEps: cfg.Layer.Eps}),
		decoder: loadDecoder(l.sub("decoder."), DecoderConfig{Layer: cfg.Layer, Layers: cfg.DecoderLayers, FinalNorm: true, FinalNormEps: cfg.Layer.Eps}),
	}
	ts, err := l.finish(op)
	if err != nil {
		return nil, err
	}
	t.weights = ts
	return t, nil
}

// Config is the model's configuration.
func (t *Transformer) Config() TransformerConfig { return t.cfg }

// Encoder is the encoder stack, for running or inspecting it alone.
func (t *Transformer) Encoder() *Encoder { return t.encoder }

// Decoder is the decoder stack, for running or inspecting it alone.
func (t *Transformer) Decoder() *Decoder { return t.decoder }

// Forward runs src [B, Ss, E] through the encoder and tgt [B, St, E] through
// the decoder attending to the encoder's output ([S, B, E] seq-first), and
// returns a new tensor shaped as tgt that the caller owns. The encoder's output
// stays on the device.
func (t *Transformer) Forward(src, tgt backend.Tensor, opt TransformerOptions) (backend.Tensor, error) {
	const op = "Transformer"
	if err := checkPair(op, tgt, "src", src, t.cfg.Layer); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	memory, err := t.scratch.get("memory", src.Shape()...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, err := t.be.Alloc(tgt.Shape()...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	err = t.withStacks(func() error {
		if err := t.encoder.run(memory, src, EncoderOptions{AttentionOptions: opt.Src, KeyPaddingKind: opt.KeyPaddingKind}, false, nil); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		dopt := DecoderOptions{Self: opt.Tgt, Memory: opt.Memory, KeyPaddingKind: opt.KeyPaddingKind}
		if err := t.decoder.run(out, tgt, memory, dopt, false, nil, nil); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, out.Release())
	}
	return out, nil
}

// withStacks runs f holding both stacks' locks, so that neither runs alone meanwhile.
func (t *Transformer) withStacks(f func() error) error {
	t.encoder.mu.Lock()
	defer t.encoder.mu.Unlock()
	t.decoder.mu.Lock()
	defer t.decoder.mu.Unlock()
	return f()
}

// Close releases the weights and intermediate tensors; it is idempotent.
func (t *Transformer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := errors.Join(releaseAll(t.weights), t.scratch.release(), t.encoder.Close(), t.decoder.Close())
	t.weights = nil
	return err
}
