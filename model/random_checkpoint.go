package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/safetensors"
)

// WriteRandomCheckpoint writes a Hugging Face checkpoint folder for cfg into
// dir (created if needed): config.json and model.safetensors with random
// weights drawn from seed, stored as dtype (Float32, Float16 or BFloat16), for
// examples, tests and benchmarks (a model of a real one's shapes, without
// downloading it). Linear weights are uniform in +-1/sqrt(fan_in), norms near
// 1, so activations keep their size through the layers. It refuses a folder
// that already holds a config.json or model.safetensors.
func WriteRandomCheckpoint(dir string, cfg LlamaConfig, dtype backend.DType, seed uint64) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if !dtype.Valid() {
		return backend.ArgumentErrorf("WriteRandomCheckpoint", "unknown dtype %v", dtype)
	}
	if cfg.Architecture == "" {
		cfg.Architecture = "LlamaForCausalLM"
	}
	fields := map[string]any{
		"architectures":       []string{cfg.Architecture},
		"vocab_size":          cfg.VocabSize,
		"hidden_size":         cfg.Hidden,
		"intermediate_size":   cfg.Intermediate,
		"num_hidden_layers":   cfg.Layers,
		"num_attention_heads": cfg.Heads,
		"num_key_value_heads": cfg.KVHeads,
		"head_dim":            cfg.HeadDim,
		"rms_norm_eps":        cfg.RMSNormEps,
		"rope_theta":          cfg.RopeTheta,
		"tie_word_embeddings": cfg.TieWordEmbeddings,
		"attention_bias":      cfg.AttentionBias,
		"hidden_act":          "silu",
		"torch_dtype":         map[backend.DType]string{backend.Float32: "float32", backend.Float16: "float16", backend.BFloat16: "bfloat16"}[dtype],
	}
	if len(cfg.EOSTokenIDs) > 0 {
		fields["eos_token_id"] = cfg.EOSTokenIDs
		fields["pad_token_id"] = cfg.PadTokenID
	}
	switch s := cfg.RopeScaling; s.Type {
	case backend.RopeLinear:
		fields["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": s.Factor}
	case backend.RopeLlama3:
		fields["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": s.Factor, "low_freq_factor": s.LowFreqFactor,
			"high_freq_factor": s.HighFreqFactor, "original_max_position_embeddings": s.OriginalMaxPositions}
	}
	config, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	for _, f := range []string{ConfigFile, WeightsFile} {
		if _, err := os.Lstat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("model: %s already holds %s: not overwriting a checkpoint", dir, f)
		}
	}
	tensors := randomTensors(cfg, dtype, seed)
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), append(config, '\n'), 0o644); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// RandomWeights returns random weights for cfg stored as dtype, named and
// scaled as WriteRandomCheckpoint writes them (without touching the disk).
func RandomWeights(cfg LlamaConfig, dtype backend.DType, seed uint64) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !dtype.Valid() {
		return nil, backend.ArgumentErrorf("RandomWeights", "unknown dtype %v", dtype)
	}
	return NewWeights(randomTensors(cfg, dtype, seed)...)
}

// randomTensors draws the weights of cfg from seed: Linear weights uniform in
// +-1/sqrt(fan_in), norms in 1 +- 0.1, the embedding in +-1.
func randomTensors(cfg LlamaConfig, dtype backend.DType, seed uint64) []*safetensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0x11a3a))
	var tensors []*safetensors.Tensor
	add := func(name string, scale, center float64, shape ...int) {
		n := backend.Shape(shape).Numel()
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(center + scale*(2*rng.Float64()-1))
		}
		tensors = append(tensors, encodeWeight(name, vals, dtype, shape))
	}
	e, d, f := cfg.Hidden, cfg.HeadDim, cfg.Intermediate
	q, kv := cfg.Heads*d, cfg.KVHeads*d
	add("model.embed_tokens.weight", 1, 0, cfg.VocabSize, e)
	for i := range cfg.Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", 0.1, 1, e)
		add(p+"self_attn.q_proj.weight", 1/math.Sqrt(float64(e)), 0, q, e)
		add(p+"self_attn.k_proj.weight", 1/math.Sqrt(float64(e)), 0, kv, e)
		add(p+"self_attn.v_proj.weight", 1/math.Sqrt(float64(e)), 0, kv, e)
		if cfg.AttentionBias {
			add(p+"self_attn.q_proj.bias", 0.1, 0, q)
			add(p+"self_attn.k_proj.bias", 0.1, 0, kv)
			add(p+"self_attn.v_proj.bias", 0.1, 0, kv)
		}
		add(p+"self_attn.o_proj.weight", 1/math.Sqrt(float64(q)), 0, e, q)
		add(p+"post_attention_layernorm.weight", 0.1, 1, e)
		add(p+"mlp.gate_proj.weight", 1/math.Sqrt(float64(e)), 0, f, e)
		add(p+"mlp.up_proj.weight", 1/math.Sqrt(float64(e)), 0, f, e)
		add(p+"mlp.down_proj.weight", 1/math.Sqrt(float64(f)), 0, e, f)
	}
	add("model.norm.weight", 0.1, 1, e)
	if !cfg.TieWordEmbeddings {
		add("lm_head.weight", 1/math.Sqrt(float64(e)), 0, cfg.VocabSize, e)
	}
	return tensors
}

// encodeWeight makes a safetensors tensor of vals stored as dtype (rounded to
// nearest even for the half types).
func encodeWeight(name string, vals []float32, dtype backend.DType, shape []int) *safetensors.Tensor {
	if dtype == backend.Float32 {
		return safetensors.FromFloat32(name, vals, shape...)
	}
	b := make([]byte, 2*len(vals))
	st := safetensors.F16
	if dtype == backend.BFloat16 {
		st = safetensors.BF16
	}
	for i, v := range vals {
		h := backend.Float16Bits(v)
		if dtype == backend.BFloat16 {
			h = backend.BFloat16Bits(v)
		}
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return &safetensors.Tensor{Name: name, DType: st, Shape: shape, Data: b}
}
