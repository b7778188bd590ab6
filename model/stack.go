package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/clattn/clattn/backend"
)

// EncoderConfig is a stack of identical encoder layers, as PyTorch's nn.TransformerEncoder.
type EncoderConfig struct {
	Layer  LayerConfig
	Layers int
	// FinalNorm adds the stack's own LayerNorm ("norm.*") after the last layer;
	// it has no bias where Layer.NoBias is set.
	FinalNorm bool
	// FinalNormEps is the final LayerNorm's eps; 0 means 1e-5 (nn.LayerNorm's default).
	FinalNormEps float32
}

// DecoderConfig is a stack of identical decoder layers, as PyTorch's nn.TransformerDecoder.
type DecoderConfig struct {
	Layer  LayerConfig
	Layers int
	// FinalNorm adds the stack's own LayerNorm ("norm.*") after the last layer;
	// it has no bias where Layer.NoBias is set.
	FinalNorm bool
	// FinalNormEps is the final LayerNorm's eps; 0 means 1e-5 (nn.LayerNorm's default).
	FinalNormEps float32
}

// validateStack checks the configuration of a stack.
func validateStack(op string, layer LayerConfig, layers int, eps float32) error {
	if err := layer.validate(op); err != nil {
		return err
	}
	if layers <= 0 {
		return backend.ArgumentErrorf(op, "%d layers, want > 0", layers)
	}
	if eps < 0 || eps != eps {
		return backend.ArgumentErrorf(op, "final norm eps = %g, want > 0", eps)
	}
	return nil
}

// runStack runs n layers: layer i reads src and writes dst, ping-ponging
// between two scratch tensors shaped as x; the last layer writes out, or the
// final norm (when not nil) does.
func runStack(op string, s *scratch, out, x backend.Tensor, n int, norm *LayerNorm, layer func(i int, dst, src backend.Tensor) error) error {
	var bufs [2]backend.Tensor
	for i, key := range []string{"a", "b"} {
		t, err := s.get(key, x.Shape()...)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		bufs[i] = t
	}
	cur := x
	for i := range n {
		dst := bufs[i%2]
		if i == n-1 && norm == nil {
			dst = out
		}
		if err := layer(i, dst, cur); err != nil {
			return fmt.Errorf("%s layer %d: %w", op, i, err)
		}
		cur = dst
	}
	if norm != nil {
		if err := norm.apply(out, cur, nil); err != nil {
			return fmt.Errorf("%s final norm: %w", op, err)
		}
	}
	return nil
}

// Encoder is a stack of encoder layers with an optional final LayerNorm. It is
// safe for concurrent use: calls are serialised, and a layer run alone (Layer)
// waits while the stack runs it.
type Encoder struct {
	mu      sync.Mutex // guards scratch and weights; taken before any layer's mutex
	cfg     EncoderConfig
	be      backend.Backend
	layers  []*EncoderLayer
	norm    *LayerNorm
	weights []backend.Tensor
	scratch scratch
}

// LoadEncoder loads a stack named as PyTorch's state_dict under prefix:
// layers.N.<encoder layer weights> and, with FinalNorm, norm.weight and norm.bias.
// Every missing, unexpected or mis-shaped tensor is named in the error.
func LoadEncoder(be backend.Backend, cfg EncoderConfig, w *Weights, prefix string) (*Encoder, error) {
	const op = "Encoder"
	if err := validateStack(op, cfg.Layer, cfg.Layers, cfg.FinalNormEps); err != nil {
		return nil, err
	}
	l, err := newLoader(op, be, w, prefix)
	if err != nil {
		return nil, err
	}
	enc := loadEncoder(l, cfg)
	ts, err := l.finish(op)
	if err != nil {
		return nil, err
	}
	enc.weights = ts
	return enc, nil
}

func loadEncoder(l loader, cfg EncoderConfig) *Encoder {
	enc := &Encoder{cfg: cfg, be: l.be, scratch: scratch{be: l.be}}
	for i := range cfg.Layers {
		enc.layers = append(enc.layers, loadEncoderLayer(l.sub(fmt.Sprintf("layers.%d.", i)), cfg.Layer))
	}
	if cfg.FinalNorm {
		enc.norm = loadLayerNorm(l.sub("norm."), cfg.Layer.DModel, cfg.FinalNormEps, cfg.Layer.NoBias)
	}
	return enc
}

// Config is the stack's configuration.
func (enc *Encoder) Config() EncoderConfig { return enc.cfg }

// Layer returns layer i (0-based), for running or inspecting one layer alone,
// or nil if there is no such layer.
func (enc *Encoder) Layer(i int) *EncoderLayer {
	if i < 0 || i >= len(enc.layers) {
		return nil
	}
	return enc.layers[i]
}

// Forward runs every layer on x [B, S, E] ([S, B, E] seq-first) with the same
// masks and returns a new tensor shaped as x that the caller owns.
func (enc *Encoder) Forward(x backend.Tensor, masks EncoderOptions) (backend.Tensor, error) {
	out, _, err := enc.forward(x, masks, false)
	return out, err
}

// ForwardWithWeights is Forward that also returns each layer's self-attention
// weights [B, H, S, S]; the caller owns every tensor returned.
func (enc *Encoder) ForwardWithWeights(x backend.Tensor, masks EncoderOptions) (backend.Tensor, []backend.Tensor, error) {
	return enc.forward(x, masks, true)
}

func (enc *Encoder) forward(x backend.Tensor, masks EncoderOptions, needWeights bool) (out backend.Tensor, weights []backend.Tensor, err error) {
	const op = "Encoder"
	if err := checkInput(op, "x", x, enc.cfg.Layer.DModel, enc.cfg.Layer.Layout); err != nil {
		return nil, nil, err
	}
	enc.mu.Lock()
	defer enc.mu.Unlock()
	if out, err = enc.be.Alloc(x.Shape()...); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	err = enc.run(out, x, masks, needWeights, &weights)
	if err != nil {
		return nil, nil, errors.Join(err, out.Release(), releaseAll(weights))
	}
	return out, weights, nil
}

// forwardInto is Forward writing into out (x's shape, not x itself).
func (enc *Encoder) forwardInto(out, x backend.Tensor, masks EncoderOptions) error {
	if err := checkInput("Encoder", "x", x, enc.cfg.Layer.DModel, enc.cfg.Layer.Layout); err != nil {
		return err
	}
	enc.mu.Lock()
	defer enc.mu.Unlock()
	return enc.run(out, x, masks, false, nil)
}

// run writes the stack's output for x into out; with needWeights it appends
// each layer's attention weights to *weights.
func (enc *Encoder) run(out, x backend.Tensor, masks EncoderOptions, needWeights bool, weights *[]backend.Tensor) error {
	return runStack("Encoder", &enc.scratch, out, x, len(enc.layers), enc.norm, func(i int, dst, src backend.Tensor) error {
		layer := enc.layers[i]
		layer.mu.Lock()
		defer layer.mu.Unlock()
		w, err := layer.forward(dst, src, masks, needWeights)
		if needWeights && err == nil {
			*weights = append(*weights, w)
		}
		return err
	})
}

// Close releases the weights and intermediate tensors of every layer; it is idempotent.
func (enc *Encoder) Close() error {
	enc.mu.Lock()
	defer enc.mu.Unlock()
	errs := []error{releaseAll(enc.weights), enc.scratch.release()}
	for _, l := range enc.layers {
		errs = append(errs, l.Close())
	}
	enc.weights = nil
	return errors.Join(errs...)
}

// Decoder is a stack of decoder layers with an optional final LayerNorm, as
// PyTorch's nn.TransformerDecoder. It is safe for concurrent use: calls are
// serialised, and a layer run alone (Layer) waits while the stack runs it.
type Decoder struct {
	mu      sync.Mutex // guards scratch and weights; taken before any layer's mutex
	cfg     DecoderConfig
	be      backend.Backend
	layers  []*DecoderLayer
	norm    *LayerNorm
	weights []backend.Tensor
	scratch scratch
}

// LoadDecoder loads a stack named as PyTorch's state_dict under prefix:
// layers.N.<decoder layer weights> and, with FinalNorm, norm.weight and norm.bias.
// Every missing, unexpected or mis-shaped tensor is named in the error.
func LoadDecoder(be backend.Backend, cfg DecoderConfig, w *Weights, prefix string) (*Decoder, error) {
	const op = "Decoder"
	if err := validateStack(op, cfg.Layer, cfg.Layers, cfg.FinalNormEps); err != nil {
		return nil, err
	}
	l, err := newLoader(op, be, w, prefix)
	if err != nil {
		return nil, err
	}
	dec := loadDecoder(l, cfg)
	ts, err := l.finish(op)
	if err != nil {
		return nil, err
	}
	dec.weights = ts
	return dec, nil
}

func loadDecoder(l loader, cfg DecoderConfig) *Decoder {
	dec := &Decoder{cfg: cfg, be: l.be, scratch: scratch{be: l.be}}
	for i := range cfg.Layers {
		dec.layers = append(dec.layers, loadDecoderLayer(l.sub(fmt.Sprintf("layers.%d.", i)), cfg.Layer))
	}
	if cfg.FinalNorm {
		dec.norm = loadLayerNorm(l.sub("norm."), cfg.Layer.DModel, cfg.FinalNormEps, cfg.Layer.NoBias)
	}
	return dec
}

// Config is the stack's configuration.
func (dec *Decoder) Config() DecoderConfig { return dec.cfg }

// Layer returns layer i (0-based), for running or inspecting one layer alone,
// or nil if there is no such layer.
func (dec *Decoder) Layer(i int) *DecoderLayer {
	if i < 0 || i >= len(dec.layers) {
		return nil
	}
	return dec.layers[i]
}

// Forward runs every layer on tgt [B, St, E] attending to memory [B, Sm, E]
// ([S, B, E] seq-first) with the same masks and returns a new tensor shaped as
// tgt that the caller owns.
func (dec *Decoder) Forward(tgt, memory backend.Tensor, opt DecoderOptions) (backend.Tensor, error) {
	out, _, _, err := dec.forward(tgt, memory, opt, false)
	return out, err
}

// ForwardWithWeights is Forward that also returns each layer's self-attention
// weights [B, H, St, St] and cross-attention weights [B, H, St, Sm]; the caller
// owns every tensor returned.
func (dec *Decoder) ForwardWithWeights(tgt, memory backend.Tensor, opt DecoderOptions) (out backend.Tensor, selfWeights, crossWeights []backend.Tensor, err error) {
	return dec.forward(tgt, memory, opt, true)
}

func (dec *Decoder) forward(tgt, memory backend.Tensor, opt DecoderOptions, needWeights bool) (out backend.Tensor, selfW, crossW []backend.Tensor, err error) {
	const op = "Decoder"
	if err := checkPair(op, tgt, "memory", memory, dec.cfg.Layer); err != nil {
		return nil, nil, nil, err
	}
	dec.mu.Lock()
	defer dec.mu.Unlock()
	if out, err = dec.be.Alloc(tgt.Shape()...); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if err = dec.run(out, tgt, memory, opt, needWeights, &selfW, &crossW); err != nil {
		return nil, nil, nil, errors.Join(err, out.Release(), releaseAll(selfW), releaseAll(crossW))
	}
	return out, selfW, crossW, nil
}

// run writes the stack's output into out; with needWeights it appends each
// layer's attention weights to *selfW and *crossW.
func (dec *Decoder) run(out, tgt, memory backend.Tensor, opt DecoderOptions, needWeights bool, selfW, crossW *[]backend.Tensor) error {
	return runStack("Decoder", &dec.scratch, out, tgt, len(dec.layers), dec.norm, func(i int, dst, src backend.Tensor) error {
		layer := dec.layers[i]
		layer.mu.Lock()
		defer layer.mu.Unlock()
		sw, cw, err := layer.forward(dst, src, memory, opt, needWeights)
		if needWeights && err == nil {
			*selfW, *crossW = append(*selfW, sw), append(*crossW, cw)
		}
		return err
	})
}

// Close releases the weights and intermediate tensors of every layer; it is idempotent.
func (dec *Decoder) Close() error {
	dec.mu.Lock()
	defer dec.mu.Unlock()
	errs := []error{releaseAll(dec.weights), dec.scratch.release()}
	for _, l := range dec.layers {
		errs = append(errs, l.Close())
	}
	dec.weights = nil
	return errors.Join(errs...)
}
