package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// LlamaConfig is the shape of a decoder-only model of the Llama family
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM), as Hugging Face's
// config.json spells it.
type LlamaConfig struct {
	// Architecture is the checkpoint's class name, e.g. "LlamaForCausalLM".
	Architecture string
	VocabSize    int // vocab_size
	Hidden       int // hidden_size
	Intermediate int // intermediate_size
	Layers       int // num_hidden_layers
	Heads        int // num_attention_heads
	// KVHeads is num_key_value_heads (grouped-query attention); it divides Heads.
	KVHeads int
	// HeadDim is head_dim, by default Hidden/Heads.
	HeadDim int
	// RMSNormEps is rms_norm_eps (default 1e-6).
	RMSNormEps float32
	// RopeTheta is rope_theta (default 10000); RoPE is neox-style over the whole head.
	RopeTheta float64
	// TieWordEmbeddings: the logits use model.embed_tokens.weight, there is no lm_head.weight.
	TieWordEmbeddings bool
	// AttentionBias: q_proj, k_proj and v_proj have biases (Qwen2 always).
	AttentionBias bool
	// SlidingWindow is the attention window of Mistral-style checkpoints, 0 for
	// none. Sliding-window attention is not implemented: a cache longer than the
	// window is refused (within the window it changes nothing).
	SlidingWindow int
}

// Architectures lists the config.json architectures this package loads.
var Architectures = []string{"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"}

// ParseLlamaConfig reads a Hugging Face config.json. A field this package does
// not implement and that would change the results (rope_scaling, a hidden_act
// other than silu, mlp_bias, partial rotary, ...) is an ErrConfig naming it;
// fields that do not change the math (token ids, torch_dtype, ...) are ignored.
func ParseLlamaConfig(data []byte) (LlamaConfig, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return LlamaConfig{}, fmt.Errorf("model: %w: config.json: %v", ErrConfig, err)
	}
	p := configParser{raw: raw}
	var archs []string
	p.get("architectures", &archs)
	c := LlamaConfig{RMSNormEps: 1e-6, RopeTheta: 10000}
	switch {
	case p.err != nil:
	case len(archs) != 1:
		p.fail("architectures is %v, want one of %s", archs, strings.Join(Architectures, ", "))
	case !slices.Contains(Architectures, archs[0]):
		p.fail("architecture %s is not supported (want %s)", archs[0], strings.Join(Architectures, ", "))
	default:
		c.Architecture = archs[0]
	}
	p.require("vocab_size", &c.VocabSize)
	p.require("hidden_size", &c.Hidden)
	p.require("intermediate_size", &c.Intermediate)
	p.require("num_hidden_layers", &c.Layers)
	p.require("num_attention_heads", &c.Heads)
	c.KVHeads = c.Heads
	p.get("num_key_value_heads", &c.KVHeads)
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	p.get("head_dim", &c.HeadDim)
	var eps float64
	if p.get("rms_norm_eps", &eps) {
		c.RMSNormEps = float32(eps)
	}
	p.get("rope_theta", &c.RopeTheta)
	p.get("tie_word_embeddings", &c.TieWordEmbeddings)
	c.AttentionBias = c.Architecture == "Qwen2ForCausalLM" // Qwen2's q/k/v projections always have biases
	p.get("attention_bias", &c.AttentionBias)

	// Fields that change the math: refused unless they hold their neutral value.
	var act string
	if p.get("hidden_act", &act) && act != "silu" {
		p.fail("hidden_act %q is not supported (want silu)", act)
	}
	if v, ok := raw["rope_scaling"]; ok && string(v) != "null" {
		p.fail("rope_scaling %s is not supported", v)
	}
	var flag bool
	if p.get("mlp_bias", &flag) && flag {
		p.fail("mlp_bias true is not supported")
	}
	var factor float64
	if p.get("partial_rotary_factor", &factor) && factor != 1 {
		p.fail("partial_rotary_factor %g is not supported", factor)
	}
	useWindow := c.Architecture != "Qwen2ForCausalLM" // Qwen2 applies it only with use_sliding_window
	p.get("use_sliding_window", &useWindow)
	if useWindow {
		p.get("sliding_window", &c.SlidingWindow)
	}
	if p.err == nil {
		p.err = c.Validate()
	}
	return c, p.err
}

// Validate checks that the sizes are positive and fit together.
func (c LlamaConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", c.VocabSize}, {"hidden_size", c.Hidden}, {"intermediate_size", c.Intermediate},
		{"num_hidden_layers", c.Layers}, {"num_attention_heads", c.Heads}, {"num_key_value_heads", c.KVHeads},
		{"head_dim", c.HeadDim}} {
		if f.v <= 0 {
			return fmt.Errorf("model: %w: %s = %d, want > 0", ErrConfig, f.name, f.v)
		}
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("model: %w: num_key_value_heads %d does not divide num_attention_heads %d", ErrConfig, c.KVHeads, c.Heads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("model: %w: head_dim %d is odd (rotary embedding pairs dimensions)", ErrConfig, c.HeadDim)
	}
	if !(c.RMSNormEps > 0) {
		return fmt.Errorf("model: %w: rms_norm_eps = %g, want > 0", ErrConfig, c.RMSNormEps)
	}
	if !(c.RopeTheta > 0) {
		return fmt.Errorf("model: %w: rope_theta = %g, want > 0", ErrConfig, c.RopeTheta)
	}
	if c.SlidingWindow < 0 {
		return fmt.Errorf("model: %w: sliding_window = %d, want >= 0", ErrConfig, c.SlidingWindow)
	}
	return nil
}

// configParser reads fields of a config.json, keeping the first error.
type configParser struct {
	raw map[string]json.RawMessage
	err error
}

func (p *configParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("model: %w: config.json: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
}

// get decodes field name into dst where it is present and not null, and
// reports whether it was.
func (p *configParser) get(name string, dst any) bool {
	v, ok := p.raw[name]
	if !ok || string(v) == "null" || p.err != nil {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		p.fail("%s is %s, of the wrong type", name, v)
		return false
	}
	return true
}

// require is get for a field that must be present.
func (p *configParser) require(name string, dst any) {
	if _, ok := p.raw[name]; !ok && p.err == nil {
		p.fail("%s is missing", name)
	}
	p.get(name, dst)
}
