package model_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// stackTensors are n layers under prefix+"layers.N." and the stack's norm.
func stackTensors(rng *rand.Rand, prefix string, n, e, ff int, decoder bool) []*safetensors.Tensor {
	var ts []*safetensors.Tensor
	for i := range n {
		ts = append(ts, layerTensors(rng, fmt.Sprintf("%slayers.%d.", prefix, i), e, ff, decoder)...)
	}
	return append(ts, randomTensor(rng, prefix+"norm.weight", 1, e), randomTensor(rng, prefix+"norm.bias", 0.1, e))
}

// TestLoad checks that Load reads d_model, d_ff and each stack's depth from
// the weights, runs as the kind's own loader does, and returns the attention
// weights of every layer.
func TestLoad(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(21, 22))
	const e, ff, heads = 8, 24, 2
	src, tgt, mem := upload(t, be, rng, 2, 5, e), upload(t, be, rng, 2, 6, e), upload(t, be, rng, 2, 7, e)
	causal := backend.AttentionOptions{Causal: backend.CausalTopLeft}
	layer := model.LayerConfig{DModel: e, Heads: heads, DFF: ff, Activation: backend.GELU, Eps: 1e-6}
	opt := model.LoadOptions{Heads: heads, Activation: backend.GELU, Eps: 1e-6}
	stackOpt := opt
	stackOpt.FinalNorm = true
	transformer := append(stackTensors(rng, "encoder.", 2, e, ff, false), stackTensors(rng, "decoder.", 3, e, ff, true)...)
	for _, c := range []struct {
		kind    string
		weights []*safetensors.Tensor
		opt     model.LoadOptions
		in      model.Inputs
		desc    string
		enc     int // encoder self-attention weight tensors
		dec     int // decoder self- (and cross-) attention weight tensors
		direct  func(w *model.Weights) (backend.Tensor, error)
	}{
		{model.KindEncoder, layerTensors(rng, "", e, ff, false), opt, model.Inputs{Src: src, SrcMasks: causal},
			"encoder layer (d_model 8, 2 heads, d_ff 24)", 1, 0, func(w *model.Weights) (backend.Tensor, error) {
				l, err := model.LoadEncoderLayer(be, layer, w, "")
				if err != nil {
					return nil, err
				}
				defer l.Close()
				return l.Forward(src, model.EncoderOptions{AttentionOptions: causal})
			}},
		{model.KindEncoder, stackTensors(rng, "", 3, e, ff, false), stackOpt, model.Inputs{Src: src, SrcMasks: causal},
			"encoder stack of 3 layers (d_model 8, 2 heads, d_ff 24, final norm true)", 3, 0, func(w *model.Weights) (backend.Tensor, error) {
				s, err := model.LoadEncoder(be, model.EncoderConfig{Layer: layer, Layers: 3, FinalNorm: true}, w, "")
				if err != nil {
					return nil, err
				}
				defer s.Close()
				return s.Forward(src, model.EncoderOptions{AttentionOptions: causal})
			}},
		{model.KindDecoder, layerTensors(rng, "", e, ff, true), opt, model.Inputs{Tgt: tgt, Memory: mem, TgtMasks: causal},
			"decoder layer (d_model 8, 2 heads, d_ff 24)", 0, 1, func(w *model.Weights) (backend.Tensor, error) {
				d, err := model.LoadDecoderLayer(be, layer, w, "")
				if err != nil {
					return nil, err
				}
				defer d.Close()
				return d.Forward(tgt, mem, model.DecoderOptions{Self: causal})
			}},
		{model.KindDecoder, stackTensors(rng, "", 2, e, ff, true), stackOpt, model.Inputs{Tgt: tgt, Memory: mem, TgtMasks: causal},
			"decoder stack of 2 layers (d_model 8, 2 heads, d_ff 24, final norm true)", 0, 2, func(w *model.Weights) (backend.Tensor, error) {
				d, err := model.LoadDecoder(be, model.DecoderConfig{Layer: layer, Layers: 2, FinalNorm: true}, w, "")
				if err != nil {
					return nil, err
				}
				defer d.Close()
				return d.Forward(tgt, mem, model.DecoderOptions{Self: causal})
			}},
		{model.KindTransformer, transformer, opt, model.Inputs{Src: src, Tgt: tgt, TgtMasks: causal},
			"transformer of 2 encoder and 3 decoder layers (d_model 8, 2 heads, d_ff 24)", 2, 3, func(w *model.Weights) (backend.Tensor, error) {
				tr, err := model.LoadTransformer(be, model.TransformerConfig{Layer: layer, EncoderLayers: 2, DecoderLayers: 3}, w, "")
				if err != nil {
					return nil, err
				}
				defer tr.Close()
				return tr.Forward(src, tgt, model.TransformerOptions{Tgt: causal})
			}},
	} {
		t.Run(c.desc, func(t *testing.T) {
			w := mustWeights(t, c.weights)
			m, err := model.Load(be, c.kind, w, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.String() != c.desc {
				t.Errorf("described as %q", m.String())
			}
			out, err := m.Forward(c.in)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Release()
			want, err := c.direct(w)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Release()
			if d := maxDiff(download(t, be, out), download(t, be, want)); d != 0 {
				t.Errorf("Load's model differs from the kind's loader by %g", d)
			}
			out2, ws, err := m.ForwardWithWeights(c.in)
			for _, w := range ws.All() {
				defer w.Release()
			}
			if err != nil {
				t.Fatal(err)
			}
			defer out2.Release()
			if len(ws.EncoderSelf) != c.enc || len(ws.DecoderSelf) != c.dec || len(ws.DecoderCross) != c.dec {
				t.Errorf("attention weights: %d encoder, %d decoder self, %d cross; want %d, %d, %d",
					len(ws.EncoderSelf), len(ws.DecoderSelf), len(ws.DecoderCross), c.enc, c.dec, c.dec)
			}
			if d := maxDiff(download(t, be, out), download(t, be, out2)); d > 1e-5 {
				t.Errorf("the unfused path differs by %g", d)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(23, 24))
	const e, ff = 8, 16
	single := layerTensors(rng, "", e, ff, false)
	var gappy []*safetensors.Tensor
	for _, i := range []int{0, 2} {
		gappy = append(gappy, layerTensors(rng, fmt.Sprintf("layers.%d.", i), e, ff, false)...)
	}
	two := stackTensors(rng, "", 2, e, ff, false)
	opt := model.LoadOptions{Heads: 2, Activation: backend.ReLU}
	for _, c := range []struct {
		name     string
		kind     string
		weights  []*safetensors.Tensor
		opt      model.LoadOptions
		sentinel error
		want     string
	}{
		{"unknown kind", "lstm", single, opt, nil, `kind "lstm"`},
		{"no attention weights", model.KindEncoder, single[4:], opt, model.ErrWeights, `no "self_attn.in_proj_weight"`},
		{"gap in stack", model.KindEncoder, gappy, opt, model.ErrWeights, "layers.1.* missing"},
		{"depth", model.KindEncoder, two, model.LoadOptions{Heads: 2, Layers: 3}, nil, "3 layers asked for, but the weights hold 2"},
		{"depth of one layer", model.KindEncoder, single, model.LoadOptions{Heads: 2, Layers: 2}, nil, "hold one layer"},
		{"final norm of one layer", model.KindEncoder, single, model.LoadOptions{Heads: 2, FinalNorm: true}, nil, "needs a stack"},
		{"not a transformer", model.KindTransformer, two, opt, model.ErrWeights, "not an nn.Transformer state_dict"},
		{"heads", model.KindEncoder, single, model.LoadOptions{Heads: 3}, backend.ErrShape, "not divisible"},
		{"decoder weights of an encoder", model.KindDecoder, single, opt, model.ErrWeights, "missing multihead_attn"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := model.Load(be, c.kind, mustWeights(t, c.weights), c.opt)
			if err == nil {
				m.Close()
			}
			wantError(t, err, c.sentinel, c.want)
		})
	}
	w := mustWeights(t, single)
	if !w.HasLayerBiases() {
		t.Error("HasLayerBiases of a layer with linear1.bias")
	}
	if mustWeights(t, single[:1]).HasLayerBiases() {
		t.Error("HasLayerBiases without linear1.bias")
	}
}
