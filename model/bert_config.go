package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clattn/clattn/backend"
)

// ErrConfig marks a model configuration that cannot be read or asks for math
// this package does not implement; the error names the field.
var ErrConfig = errors.New("unsupported model configuration")

// BertConfig is the part of a Hugging Face config.json that shapes a
// BERT-family encoder (BertModel, BertForMaskedLM, RobertaModel, XLMRobertaModel
// and the sentence-transformers models built on them: MiniLM, BGE, E5, ...).
type BertConfig struct {
	// ModelType is "bert", "roberta" or "xlm-roberta"; RoBERTa-style models
	// number their positions from PadTokenID+1, as Hugging Face does.
	ModelType             string  `json:"model_type"`
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	IntermediateSize      int     `json:"intermediate_size"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	TypeVocabSize         int     `json:"type_vocab_size"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	// HiddenAct is the feed-forward activation: "gelu" (exact, erf) or "relu".
	HiddenAct string `json:"hidden_act"`
	// PositionEmbeddingType must be "absolute".
	PositionEmbeddingType string `json:"position_embedding_type"`
	PadTokenID            int    `json:"pad_token_id"`
	// IsDecoder and AddCrossAttention (causal or cross-attending BERTs) are refused.
	IsDecoder         bool `json:"is_decoder"`
	AddCrossAttention bool `json:"add_cross_attention"`
	// EmbeddingSize (ALBERT, ELECTRA: embeddings projected to the hidden size)
	// must be absent or equal HiddenSize.
	EmbeddingSize int `json:"embedding_size"`
}

// DefaultBertConfig is Hugging Face's BertConfig defaults (bert-base-uncased);
// ReadBertConfig starts from it, so a field config.json leaves out takes the
// value transformers would give it.
func DefaultBertConfig() BertConfig {
	return BertConfig{
		ModelType: "bert", VocabSize: 30522, HiddenSize: 768, NumAttentionHeads: 12, NumHiddenLayers: 12,
		IntermediateSize: 3072, MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12,
		HiddenAct: "gelu", PositionEmbeddingType: "absolute",
	}
}

// ReadBertConfig reads dir/config.json.
func ReadBertConfig(dir string) (BertConfig, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return BertConfig{}, fmt.Errorf("model: %w", err)
	}
	cfg, err := ParseBertConfig(b)
	if err != nil {
		return BertConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseBertConfig reads a config.json over DefaultBertConfig and validates it.
// Fields that do not change the math (dropout, architectures, torch_dtype, ...)
// are ignored.
func ParseBertConfig(b []byte) (BertConfig, error) {
	cfg := DefaultBertConfig()
	if err := json.Unmarshal(b, &cfg); err != nil {
		return BertConfig{}, fmt.Errorf("model: %w: %v", ErrConfig, err)
	}
	return cfg, cfg.Validate()
}

// positionOffset is the position of a row's first token: 0 for BERT,
// pad_token_id+1 for RoBERTa-style models (Hugging Face's
// create_position_ids_from_input_ids on an unpadded row).
func (c BertConfig) positionOffset() int {
	if c.robertaStyle() {
		return c.PadTokenID + 1
	}
	return 0
}

func (c BertConfig) robertaStyle() bool {
	return c.ModelType == "roberta" || c.ModelType == "xlm-roberta"
}

// MaxTokens is the longest row the position table allows.
func (c BertConfig) MaxTokens() int { return c.MaxPositionEmbeddings - c.positionOffset() }

// Validate checks the sizes and refuses every field whose value asks for math
// this encoder does not do, naming the field.
func (c BertConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("model: %w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch c.ModelType {
	case "bert", "roberta", "xlm-roberta":
	default:
		return bad("model_type %q (want bert, roberta or xlm-roberta)", c.ModelType)
	}
	if c.PositionEmbeddingType != "absolute" {
		return bad("position_embedding_type %q (only absolute position embeddings are implemented)", c.PositionEmbeddingType)
	}
	if c.HiddenAct != "gelu" && c.HiddenAct != "relu" {
		return bad("hidden_act %q (want gelu, the exact erf form, or relu)", c.HiddenAct)
	}
	if c.IsDecoder {
		return bad("is_decoder true (a causal BERT is not an encoder for embeddings)")
	}
	if c.AddCrossAttention {
		return bad("add_cross_attention true")
	}
	if c.EmbeddingSize != 0 && c.EmbeddingSize != c.HiddenSize {
		return bad("embedding_size %d != hidden_size %d (projected embeddings are not implemented)", c.EmbeddingSize, c.HiddenSize)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_hidden_layers", c.NumHiddenLayers}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize},
	} {
		if f.v <= 0 {
			return bad("%s = %d, want > 0", f.name, f.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return bad("hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if !(c.LayerNormEps > 0) {
		return bad("layer_norm_eps = %g, want > 0", c.LayerNormEps)
	}
	if c.robertaStyle() && (c.PadTokenID < 0 || c.MaxTokens() <= 0) {
		return bad("pad_token_id %d leaves no positions of max_position_embeddings %d", c.PadTokenID, c.MaxPositionEmbeddings)
	}
	return nil
}

// layerConfig is the configuration of each encoder layer: post-norm, as
// nn.TransformerEncoderLayer with BERT's activation and eps.
func (c BertConfig) layerConfig() LayerConfig {
	act := backend.GELU
	if c.HiddenAct == "relu" {
		act = backend.ReLU
	}
	return LayerConfig{DModel: c.HiddenSize, Heads: c.NumAttentionHeads, DFF: c.IntermediateSize, Activation: act, Eps: float32(c.LayerNormEps)}
}
