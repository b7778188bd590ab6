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
	// FinalNorm adds the stack's own LayerNorm ("norm.*") after the last layer.
	FinalNorm bool
	// FinalNormEps is the final LayerNorm's eps; 0 means 1e-5 (nn.LayerNorm's default).
	FinalNormEps float32
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
	if err := cfg.Layer.validate(op); err != nil {
		return nil, err
	}
	if cfg.Layers <= 0 {
		return nil, backend.ArgumentErrorf(op, "%d layers, want > 0", cfg.Layers)
	}
	if cfg.FinalNormEps < 0 || cfg.FinalNormEps != cfg.FinalNormEps {
		return nil, backend.ArgumentErrorf(op, "final norm eps = %g, want > 0", cfg.FinalNormEps)
	}
	l := newLoader(be, w, prefix)
	enc := &Encoder{cfg: cfg, be: be, scratch: scratch{be: be}}
	for i := range cfg.Layers {
		enc.layers = append(enc.layers, loadEncoderLayer(l.sub(fmt.Sprintf("layers.%d.", i)), cfg.Layer))
	}
	if cfg.FinalNorm {
		enc.norm = loadLayerNorm(l.sub("norm."), cfg.Layer.DModel, cfg.FinalNormEps)
	}
	ts, err := l.finish(op)
	if err != nil {
		return nil, err
	}
	enc.weights = ts
	return enc, nil
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

// Forward runs every layer on x [B, S, E] with the same masks and returns a new
// [B, S, E] tensor the caller owns.
func (enc *Encoder) Forward(x backend.Tensor, masks backend.AttentionOptions) (backend.Tensor, error) {
	out, _, err := enc.forward(x, masks, false)
	return out, err
}

// ForwardWithWeights is Forward that also returns each layer's self-attention
// weights [B, H, S, S]; the caller owns every tensor returned.
func (enc *Encoder) ForwardWithWeights(x backend.Tensor, masks backend.AttentionOptions) (backend.Tensor, []backend.Tensor, error) {
	return enc.forward(x, masks, true)
}

func (enc *Encoder) forward(x backend.Tensor, masks backend.AttentionOptions, needWeights bool) (out backend.Tensor, weights []backend.Tensor, err error) {
	const op = "Encoder"
	if err := checkInput(op, "x", x, enc.cfg.Layer.DModel); err != nil {
		return nil, nil, err
	}
	enc.mu.Lock()
	defer enc.mu.Unlock()
	shape := x.Shape()
	if out, err = enc.be.Alloc(shape...); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, out.Release(), releaseAll(weights))
			out, weights = nil, nil
		}
	}()
	// Layers ping-pong between two scratch tensors; the last step writes out.
	var bufs [2]backend.Tensor
	for i, key := range []string{"a", "b"} {
		if bufs[i], err = enc.scratch.get(key, shape...); err != nil {
			return out, weights, fmt.Errorf("%s: %w", op, err)
		}
	}
	cur := x
	for i, layer := range enc.layers {
		dst := bufs[i%2]
		if i == len(enc.layers)-1 && enc.norm == nil {
			dst = out
		}
		layer.mu.Lock()
		w, err := layer.forward(dst, cur, masks, needWeights)
		layer.mu.Unlock()
		if err != nil {
			return out, weights, fmt.Errorf("%s layer %d: %w", op, i, err)
		}
		if needWeights {
			weights = append(weights, w)
		}
		cur = dst
	}
	if enc.norm != nil {
		if err := enc.norm.apply(out, cur, nil); err != nil {
			return out, weights, fmt.Errorf("%s final norm: %w", op, err)
		}
	}
	return out, weights, nil
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
