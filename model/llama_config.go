package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/clattn/clattn/backend"
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
	// RopeScaling is rope_scaling: none, linear or llama3 (Llama 3.1 and
	// later), applied to the frequencies theta^(-2i/HeadDim) as Hugging Face's
	// transformers does (RopeFrequencies).
	RopeScaling backend.RopeScaling
	// TieWordEmbeddings: the logits use model.embed_tokens.weight, there is no lm_head.weight.
	TieWordEmbeddings bool
	// AttentionBias: q_proj, k_proj and v_proj have biases (Qwen2 always).
	AttentionBias bool
	// EOSTokenIDs are the end-of-sequence ids (eos_token_id: one or a list;
	// generation_config.json's where that file sets it): Greedy ends a
	// sequence at the first of them it generates. Empty: never.
	EOSTokenIDs []int
	// PadTokenID is what Greedy gives a sequence after its end: pad_token_id
	// (generation_config.json's where that file sets it), or where the
	// checkpoint has none the first EOS id, as Hugging Face's generate does.
	PadTokenID int
	// SlidingWindow is the attention window of Mistral-style checkpoints, 0 for
	// none. Sliding-window attention is not implemented: a cache longer than the
	// window is refused (within the window it changes nothing).
	SlidingWindow int
}

// Architectures lists the config.json architectures this package loads.
var Architectures = []string{"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"}

// ParseLlamaConfig reads a Hugging Face config.json. A field this package does
// not implement and that would change the results (a rope_scaling other than
// linear or llama3, a hidden_act other than silu, mlp_bias, partial rotary,
// ...) is an ErrConfig naming it; fields that do not change the math
// (torch_dtype, max_position_embeddings, ...) are ignored. eos_token_id and
// pad_token_id set EOSTokenIDs and PadTokenID (ReadCheckpointConfig also
// reads a folder's generation_config.json).
func ParseLlamaConfig(data []byte) (LlamaConfig, error) {
	c, tokens, err := parseLlamaConfig(data)
	if err != nil {
		return c, err
	}
	c.setSpecialTokens(tokens)
	return c, c.Validate()
}

// parseLlamaConfig is ParseLlamaConfig leaving EOSTokenIDs and PadTokenID
// unset (it returns the special tokens as config.json sets them) and without
// Validate.
func parseLlamaConfig(data []byte) (LlamaConfig, specialTokens, error) {
	p, err := newConfigParser(ConfigFile, data)
	if err != nil {
		return LlamaConfig{}, specialTokens{}, err
	}
	raw := p.raw
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
		var err error
		if c.RopeScaling, err = parseRopeScaling(v); err != nil {
			p.fail("%v", err)
		}
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
	tokens := p.specialTokens()
	if c.VocabSize > 0 {
		p.checkSpecialTokens(tokens, c.VocabSize)
	}
	return c, tokens, p.err
}

// parseGenerationConfig reads the special tokens of a generation_config.json
// for a model of vocab tokens.
func parseGenerationConfig(data []byte, vocab int) (specialTokens, error) {
	p, err := newConfigParser(GenerationConfigFile, data)
	if err != nil {
		return specialTokens{}, err
	}
	t := p.specialTokens()
	p.checkSpecialTokens(t, vocab)
	return t, p.err
}

// specialTokens are eos_token_id and pad_token_id as one file sets them
// (nil where it does not).
type specialTokens struct {
	eos []int
	pad *int
}

// specialTokens reads eos_token_id (an id or a list of ids) and pad_token_id.
func (p *configParser) specialTokens() specialTokens {
	var t specialTokens
	if v, ok := p.raw["eos_token_id"]; ok && string(v) != "null" && p.err == nil {
		var one int
		if json.Unmarshal(v, &one) == nil {
			t.eos = []int{one}
		} else if json.Unmarshal(v, &t.eos) != nil || t.eos == nil {
			p.fail("eos_token_id is %s, want a token id or a list of them", v)
		}
	}
	var pad int
	if p.get("pad_token_id", &pad) {
		t.pad = &pad
	}
	return t
}

// setSpecialTokens sets EOSTokenIDs and PadTokenID from the files' tokens,
// a later file's where it sets them.
func (c *LlamaConfig) setSpecialTokens(files ...specialTokens) {
	var pad *int
	c.EOSTokenIDs = nil
	for _, f := range files {
		if f.eos != nil {
			c.EOSTokenIDs = f.eos
		}
		if f.pad != nil {
			pad = f.pad
		}
	}
	switch {
	case pad != nil:
		c.PadTokenID = *pad
	case len(c.EOSTokenIDs) > 0:
		c.PadTokenID = c.EOSTokenIDs[0]
	default:
		c.PadTokenID = 0
	}
}

// checkSpecialTokens fails where a file's eos_token_id or pad_token_id lies
// outside the vocabulary.
func (p *configParser) checkSpecialTokens(t specialTokens, vocab int) {
	for _, id := range t.eos {
		if id < 0 || id >= vocab {
			p.fail("eos_token_id %d is outside the vocabulary [0, %d)", id, vocab)
		}
	}
	if t.pad != nil && (*t.pad < 0 || *t.pad >= vocab) {
		p.fail("pad_token_id %d is outside the vocabulary [0, %d)", *t.pad, vocab)
	}
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
	if err := c.RopeScaling.Validate(); err != nil {
		return fmt.Errorf("model: %w: rope_scaling: %w", ErrConfig, err)
	}
	for _, id := range c.EOSTokenIDs {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("model: %w: eos_token_id %d is outside the vocabulary [0, %d)", ErrConfig, id, c.VocabSize)
		}
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		return fmt.Errorf("model: %w: pad_token_id %d is outside the vocabulary [0, %d)", ErrConfig, c.PadTokenID, c.VocabSize)
	}
	return nil
}

// RopeFrequencies are the HeadDim/2 rotary frequencies of the model in
// float64: rope_theta^(-2i/head_dim) with rope_scaling applied, as Hugging
// Face's inv_freq (there computed in float32).
func (c LlamaConfig) RopeFrequencies() []float64 {
	return c.RopeScaling.InverseFrequencies(c.RopeTheta, c.HeadDim)
}

// ropeScalingKeys are the keys of each supported rope_type besides
// rope_type (or its older name, type); all are required.
var ropeScalingKeys = map[backend.RopeScalingType][]string{
	backend.RopeUnscaled: nil,
	backend.RopeLinear:   {"factor"},
	backend.RopeLlama3:   {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"},
}

// ParseRopeScaling reads the rope_scaling object of a config.json:
// {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
// "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, or
// {"rope_type": "linear", "factor": 2.0}, or {"rope_type": "default"}
// ("type" is rope_type's older name). Another rope_type (dynamic, yarn,
// longrope, ...), a missing key, a key the type does not use, or a value out
// of range is an ErrConfig naming it: a scaling is never half applied.
func ParseRopeScaling(data []byte) (backend.RopeScaling, error) {
	s, err := parseRopeScaling(data)
	if err != nil {
		return s, fmt.Errorf("model: %w: %v", ErrConfig, err)
	}
	return s, nil
}

func parseRopeScaling(data []byte) (backend.RopeScaling, error) {
	fail := func(format string, args ...any) (backend.RopeScaling, error) {
		return backend.RopeScaling{}, fmt.Errorf("rope_scaling %s: %s", data, fmt.Sprintf(format, args...))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return fail("want a JSON object")
	}
	var kind, old string
	hasKind, hasOld := raw["rope_type"] != nil, raw["type"] != nil
	if hasKind && json.Unmarshal(raw["rope_type"], &kind) != nil || hasOld && json.Unmarshal(raw["type"], &old) != nil {
		return fail("rope_type is not a string")
	}
	switch {
	case !hasKind && !hasOld:
		return fail("no rope_type")
	case hasKind && hasOld && kind != old:
		return fail("rope_type %q and type %q differ", kind, old)
	case !hasKind:
		kind = old
	}
	t := backend.RopeScalingType(kind)
	if kind == "default" {
		t = backend.RopeUnscaled
	}
	keys, ok := ropeScalingKeys[t]
	if !ok || kind == "" {
		return fail("rope_type %q is not supported (want default, linear or llama3)", kind)
	}
	for k := range raw {
		if k != "rope_type" && k != "type" && !slices.Contains(keys, k) {
			return fail("key %q is not supported with rope_type %s", k, kind)
		}
	}
	s := backend.RopeScaling{Type: t}
	fields := map[string]*float64{"factor": &s.Factor, "low_freq_factor": &s.LowFreqFactor,
		"high_freq_factor": &s.HighFreqFactor, "original_max_position_embeddings": &s.OriginalMaxPositions}
	for _, k := range keys {
		if raw[k] == nil {
			return fail("%s is missing (rope_type %s needs %s)", k, kind, strings.Join(keys, ", "))
		}
		if err := json.Unmarshal(raw[k], fields[k]); err != nil {
			return fail("%s is %s, want a number", k, raw[k])
		}
	}
	if err := s.Validate(); err != nil {
		return fail("%v", err)
	}
	return s, nil
}

// configParser reads fields of a JSON configuration file (config.json,
// generation_config.json), keeping the first error.
type configParser struct {
	file string
	raw  map[string]json.RawMessage
	err  error
}

func newConfigParser(file string, data []byte) (*configParser, error) {
	p := &configParser{file: file}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&p.raw); err != nil {
		return nil, fmt.Errorf("model: %w: %s: %v", ErrConfig, file, err)
	}
	return p, nil
}

func (p *configParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("model: %w: %s: %s", ErrConfig, p.file, fmt.Sprintf(format, args...))
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
