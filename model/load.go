package model

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/clattn/clattn/backend"
)

// Kinds of model Load builds.
const (
	// KindEncoder is nn.TransformerEncoderLayer, or an nn.TransformerEncoder
	// stack where the weights are named layers.N.*.
	KindEncoder = "encoder"
	// KindDecoder is nn.TransformerDecoderLayer, or an nn.TransformerDecoder
	// stack where the weights are named layers.N.*.
	KindDecoder = "decoder"
	// KindTransformer is nn.Transformer: encoder.layers.N.*, decoder.layers.N.*
	// and the two stacks' norms.
	KindTransformer = "transformer"
)

// LoadOptions are what a state_dict does not say about its model; the shapes
// (d_model, d_ff, the depth of each stack) come from the weights.
type LoadOptions struct {
	// Heads, Activation, NormFirst, Eps, NoBias and Layout are those of
	// LayerConfig, shared by every layer.
	Heads      int
	Activation backend.Activation
	NormFirst  bool
	Eps        float32
	NoBias     bool
	Layout     Layout
	// Layers is the depth an encoder or decoder stack must have: 0 takes as
	// many layers.N.* as the weights hold; 1 also takes a single layer without
	// the prefix. EncoderLayers and DecoderLayers are a transformer's (0: as
	// the weights hold).
	Layers, EncoderLayers, DecoderLayers int
	// FinalNorm: the encoder or decoder stack ends with its own LayerNorm
	// (norm.*), whose eps is FinalNormEps (0: 1e-5). A transformer's two
	// stacks always do, with Eps.
	FinalNorm    bool
	FinalNormEps float32
}

// Inputs are the inputs of one forward pass of a Model: Src (encoder,
// transformer), Tgt and Memory (decoder), Tgt (transformer), each attention's
// masks as in TransformerOptions.
type Inputs struct {
	Src, Tgt, Memory                backend.Tensor
	SrcMasks, TgtMasks, MemoryMasks backend.AttentionOptions
	// KeyPaddingKind is how every KeyPadding mask is read (TransformerOptions).
	KeyPaddingKind backend.MaskKind
}

// src and decoder are the masks of in as the encoder and the decoder take them.
func (in Inputs) src() EncoderOptions {
	return EncoderOptions{AttentionOptions: in.SrcMasks, KeyPaddingKind: in.KeyPaddingKind}
}

func (in Inputs) decoder() DecoderOptions {
	return DecoderOptions{Self: in.TgtMasks, Memory: in.MemoryMasks, KeyPaddingKind: in.KeyPaddingKind}
}

// AttentionWeights are the attention weights [B, H, Sq, Sk] of every layer's
// attention blocks, from the unfused path: EncoderSelf for an encoder (and a
// transformer's encoder), DecoderSelf and DecoderCross for a decoder (and a
// transformer's decoder).
type AttentionWeights struct {
	EncoderSelf, DecoderSelf, DecoderCross []backend.Tensor
}

// All lists every tensor of w, for releasing them.
func (w AttentionWeights) All() []backend.Tensor {
	return append(append(append([]backend.Tensor(nil), w.EncoderSelf...), w.DecoderSelf...), w.DecoderCross...)
}

// Spec is what Inspect reads from a state_dict and LoadOptions: the kind,
// every layer's configuration and the depth of each stack.
type Spec struct {
	Kind string
	// Layer is every layer's configuration.
	Layer LayerConfig
	// Layers is the depth of an encoder or decoder stack, 0 for a single
	// layer; EncoderLayers and DecoderLayers are a transformer's.
	Layers, EncoderLayers, DecoderLayers int
	// FinalNorm (with FinalNormEps) ends a stack with its own LayerNorm; a
	// transformer's stacks always have theirs.
	FinalNorm    bool
	FinalNormEps float32
}

// Model is an encoder or decoder (a layer or a stack) or a transformer, loaded
// by Load and run through one interface by the commands and the golden cases.
// It is safe for concurrent use as its layers are.
type Model struct {
	Spec
	encoderLayer *EncoderLayer
	encoder      *Encoder
	decoderLayer *DecoderLayer
	decoder      *Decoder
	transformer  *Transformer
	closer       interface{ Close() error } // the one of them that is set
}

// Load is Inspect then Spec.Load.
func Load(be backend.Backend, kind string, w *Weights, opt LoadOptions) (*Model, error) {
	s, err := Inspect(kind, w, opt)
	if err != nil {
		return nil, err
	}
	return s.Load(be, w)
}

// Inspect reads the Spec of the model of kind (KindEncoder, KindDecoder,
// KindTransformer) from weights named as PyTorch's state_dict: d_model from
// self_attn.in_proj_weight [3E, E], d_ff from linear1.weight [d_ff, E] (of the
// first layer), each stack's depth from its layers.N.* names; opt gives the
// rest. It uploads nothing.
func Inspect(kind string, w *Weights, opt LoadOptions) (Spec, error) {
	s := Spec{Kind: kind, FinalNorm: opt.FinalNorm, FinalNormEps: opt.FinalNormEps}
	var err error
	prefix := ""
	switch kind {
	case KindEncoder, KindDecoder:
		if s.Layers, err = w.StackDepth("", opt.Layers); err != nil {
			return s, err
		}
		if s.Layers > 0 {
			prefix = "layers.0."
		} else if opt.FinalNorm {
			return s, errors.New("model: a final norm needs a stack: the weights have no layers.N.* tensors")
		}
	case KindTransformer:
		for _, st := range []struct {
			prefix string
			want   int
			depth  *int
		}{{"encoder.", opt.EncoderLayers, &s.EncoderLayers}, {"decoder.", opt.DecoderLayers, &s.DecoderLayers}} {
			if *st.depth, err = w.StackDepth(st.prefix, st.want); err != nil {
				return s, err
			}
			if *st.depth == 0 {
				return s, fmt.Errorf("model: %w: no %slayers.N.* tensors: not an nn.Transformer state_dict (tensors: %s)",
					ErrWeights, st.prefix, w.someNames(6))
			}
		}
		prefix, s.FinalNorm, s.FinalNormEps = "encoder.layers.0.", true, opt.Eps
	default:
		return s, fmt.Errorf("model: kind %q: want %s, %s or %s", kind, KindEncoder, KindDecoder, KindTransformer)
	}
	dModel, err := w.weightDim(prefix+"self_attn.in_proj_weight", 1)
	if err != nil {
		return s, err
	}
	dFF, err := w.weightDim(prefix+"linear1.weight", 0)
	if err != nil {
		return s, err
	}
	s.Layer = LayerConfig{DModel: dModel, Heads: opt.Heads, DFF: dFF, Activation: opt.Activation,
		NormFirst: opt.NormFirst, Eps: opt.Eps, NoBias: opt.NoBias, Layout: opt.Layout}
	return s, nil
}

// Load uploads the weights of the model s describes. Every missing,
// unexpected or mis-shaped tensor is named in the error.
func (s Spec) Load(be backend.Backend, w *Weights) (*Model, error) {
	m := &Model{Spec: s}
	var err error
	switch {
	case s.Kind == KindTransformer:
		m.transformer, err = LoadTransformer(be, TransformerConfig{Layer: s.Layer, EncoderLayers: s.EncoderLayers, DecoderLayers: s.DecoderLayers}, w, "")
		m.closer = m.transformer
	case s.Kind == KindEncoder && s.Layers == 0:
		m.encoderLayer, err = LoadEncoderLayer(be, s.Layer, w, "")
		m.closer = m.encoderLayer
	case s.Kind == KindEncoder:
		m.encoder, err = LoadEncoder(be, EncoderConfig{Layer: s.Layer, Layers: s.Layers, FinalNorm: s.FinalNorm, FinalNormEps: s.FinalNormEps}, w, "")
		m.closer = m.encoder
	case s.Kind == KindDecoder && s.Layers == 0:
		m.decoderLayer, err = LoadDecoderLayer(be, s.Layer, w, "")
		m.closer = m.decoderLayer
	case s.Kind == KindDecoder:
		m.decoder, err = LoadDecoder(be, DecoderConfig{Layer: s.Layer, Layers: s.Layers, FinalNorm: s.FinalNorm, FinalNormEps: s.FinalNormEps}, w, "")
		m.closer = m.decoder
	default:
		return nil, fmt.Errorf("model: kind %q: want %s, %s or %s", s.Kind, KindEncoder, KindDecoder, KindTransformer)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Forward runs the model and returns a new output tensor (the caller releases it).
func (m *Model) Forward(in Inputs) (backend.Tensor, error) {
	dopt := in.decoder()
	switch {
	case m.transformer != nil:
		return m.transformer.Forward(in.Src, in.Tgt, TransformerOptions{Src: in.SrcMasks, Tgt: in.TgtMasks, Memory: in.MemoryMasks, KeyPaddingKind: in.KeyPaddingKind})
	case m.encoderLayer != nil:
		return m.encoderLayer.Forward(in.Src, in.src())
	case m.encoder != nil:
		return m.encoder.Forward(in.Src, in.src())
	case m.decoderLayer != nil:
		return m.decoderLayer.Forward(in.Tgt, in.Memory, dopt)
	}
	return m.decoder.Forward(in.Tgt, in.Memory, dopt)
}

// ForwardWithWeights is Forward through the unfused attention path, which also
// returns the attention weights of every layer (a transformer runs its encoder
// stack, then its decoder stack on the encoder's output). The caller releases
// the output and every weight tensor, also on error.
func (m *Model) ForwardWithWeights(in Inputs) (backend.Tensor, AttentionWeights, error) {
	var w AttentionWeights
	dopt := in.decoder()
	switch {
	case m.transformer != nil:
		memory, enc, err := m.transformer.Encoder().ForwardWithWeights(in.Src, in.src())
		w.EncoderSelf = enc
		if err != nil {
			return nil, w, err
		}
		out, self, cross, err := m.transformer.Decoder().ForwardWithWeights(in.Tgt, memory, dopt)
		w.DecoderSelf, w.DecoderCross = self, cross
		return out, w, errors.Join(err, memory.Release())
	case m.encoderLayer != nil:
		out, self, err := m.encoderLayer.ForwardWithWeights(in.Src, in.src())
		w.EncoderSelf = nonNil(self)
		return out, w, err
	case m.encoder != nil:
		out, self, err := m.encoder.ForwardWithWeights(in.Src, in.src())
		w.EncoderSelf = self
		return out, w, err
	case m.decoderLayer != nil:
		out, self, cross, err := m.decoderLayer.ForwardWithWeights(in.Tgt, in.Memory, dopt)
		w.DecoderSelf, w.DecoderCross = nonNil(self), nonNil(cross)
		return out, w, err
	}
	out, self, cross, err := m.decoder.ForwardWithWeights(in.Tgt, in.Memory, dopt)
	w.DecoderSelf, w.DecoderCross = self, cross
	return out, w, err
}

// nonNil is the one tensor of a layer as a list, empty where a failed call left none.
func nonNil(t backend.Tensor) []backend.Tensor {
	if t == nil {
		return nil
	}
	return []backend.Tensor{t}
}

// Close releases the weights and intermediate tensors; it is idempotent.
func (m *Model) Close() error { return m.closer.Close() }

// String describes the model, as gpubench run prints it.
func (s Spec) String() string {
	c := s.Layer
	switch {
	case s.Kind == KindTransformer:
		return fmt.Sprintf("transformer of %d encoder and %d decoder layers (d_model %d, %d heads, d_ff %d)",
			s.EncoderLayers, s.DecoderLayers, c.DModel, c.Heads, c.DFF)
	case s.Layers > 0:
		return fmt.Sprintf("%s stack of %d layers (d_model %d, %d heads, d_ff %d, final norm %v)",
			s.Kind, s.Layers, c.DModel, c.Heads, c.DFF, s.FinalNorm)
	}
	return fmt.Sprintf("%s layer (d_model %d, %d heads, d_ff %d)", s.Kind, c.DModel, c.Heads, c.DFF)
}

// HasLayerBiases reports whether the weights hold the feed-forward biases
// (linear1.bias) of a layer: a state_dict of bias=False layers has none.
func (w *Weights) HasLayerBiases() bool {
	for name := range w.byName {
		if name == "linear1.bias" || strings.HasSuffix(name, ".linear1.bias") {
			return true
		}
	}
	return false
}

// weightDim is dimension dim of the 2-D weight called name.
func (w *Weights) weightDim(name string, dim int) (int, error) {
	t := w.byName[name]
	if t == nil {
		return 0, fmt.Errorf("model: %w: no %q to tell the model's size (tensors: %s)", ErrWeights, name, w.someNames(6))
	}
	if len(t.Shape) != 2 {
		return 0, fmt.Errorf("model: %w: %q is %v, want 2 dimensions", ErrWeights, name, backend.Shape(t.Shape))
	}
	return t.Shape[dim], nil
}

// someNames lists up to n tensor names, for messages.
func (w *Weights) someNames(n int) string {
	names := w.Names()
	if len(names) == 0 {
		return "none"
	}
	if len(names) > n {
		names = append(names[:n], fmt.Sprintf("... (%d in all)", len(w.byName)))
	}
	return strings.Join(names, ", ")
}

// StackDepth is the number of prefix+"layers.N.*" layers of the weights (0
// for a single layer without the prefix), checked against want where it is
// not 0 (1 also accepts a single layer).
func (w *Weights) StackDepth(prefix string, want int) (int, error) {
	seen := map[int]bool{}
	for name := range w.byName {
		rest, ok := strings.CutPrefix(name, prefix+"layers.")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("model: %w: tensor %q: want %slayers.N.* with N a layer number", ErrWeights, name, prefix)
		}
		seen[n] = true
	}
	depth := len(seen)
	for i := range depth {
		if !seen[i] {
			held := make([]int, 0, len(seen))
			for n := range seen {
				held = append(held, n)
			}
			sort.Ints(held)
			return 0, fmt.Errorf("model: %w: %slayers.%d.* missing (the weights hold layers %v)", ErrWeights, prefix, i, held)
		}
	}
	switch {
	case want == 0 || want == depth:
		return depth, nil
	case depth == 0 && want == 1:
		return 0, nil
	case depth == 0:
		return 0, fmt.Errorf("model: %d layers asked for, but the weights hold one layer (no %slayers.N.* tensors)", want, prefix)
	}
	return 0, fmt.Errorf("model: %d layers asked for, but the weights hold %d layers (%slayers.0 .. %slayers.%d)", want, depth, prefix, prefix, depth-1)
}
