package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/safetensors"
)

// The files of a Hugging Face checkpoint folder.
const (
	ConfigFile = "config.json"
	// GenerationConfigFile is optional; its eos_token_id and pad_token_id
	// override config.json's.
	GenerationConfigFile = "generation_config.json"
	WeightsFile          = "model.safetensors"
	WeightIndexFile      = "model.safetensors.index.json"
)

// LoadCheckpoint loads a Hugging Face checkpoint folder: config.json (a
// LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM) and its weights,
// model.safetensors or the shards that model.safetensors.index.json lists.
func LoadCheckpoint(be backend.Backend, dir string) (*CausalLM, error) {
	cfg, err := ReadCheckpointConfig(dir)
	if err != nil {
		return nil, err
	}
	w, err := ReadCheckpointWeights(dir)
	if err != nil {
		return nil, err
	}
	m, err := LoadCausalLM(be, cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// ReadCheckpointConfig reads and checks dir/config.json and, where the folder
// has one, dir/generation_config.json: each of eos_token_id and pad_token_id
// that the latter sets wins over config.json's.
func ReadCheckpointConfig(dir string) (LlamaConfig, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return LlamaConfig{}, fmt.Errorf("model: %w: %s has no %s (not a Hugging Face checkpoint folder)", ErrConfig, dir, ConfigFile)
	}
	if err != nil {
		return LlamaConfig{}, fmt.Errorf("model: %w", err)
	}
	cfg, tokens, err := parseLlamaConfig(b)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return LlamaConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	files := []specialTokens{tokens}
	genPath := filepath.Join(dir, GenerationConfigFile)
	b, err = os.ReadFile(genPath)
	switch {
	case err == nil:
		gen, err := parseGenerationConfig(b, cfg.VocabSize)
		if err != nil {
			return LlamaConfig{}, fmt.Errorf("%s: %w", genPath, err)
		}
		files = append(files, gen)
	case !errors.Is(err, os.ErrNotExist):
		return LlamaConfig{}, fmt.Errorf("model: %w", err)
	}
	cfg.setSpecialTokens(files...)
	return cfg, cfg.Validate()
}

// ReadCheckpointWeights reads the weights of a checkpoint folder: every shard
// named by model.safetensors.index.json's weight_map (each tensor must be in
// the shard the map names), or else model.safetensors.
func ReadCheckpointWeights(dir string) (*Weights, error) {
	indexPath := filepath.Join(dir, WeightIndexFile)
	b, err := os.ReadFile(indexPath)
	if errors.Is(err, os.ErrNotExist) {
		single := filepath.Join(dir, WeightsFile)
		if _, err := os.Stat(single); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("model: %w: %s has neither %s nor %s", ErrWeights, dir, WeightsFile, WeightIndexFile)
		}
		return ReadWeights(single)
	}
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("model: %w: %s: %v", ErrWeights, indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("model: %w: %s has no weight_map", ErrWeights, indexPath)
	}
	byShard := map[string][]string{}
	for name, shard := range index.WeightMap {
		if shard == "" || filepath.Base(shard) != shard || strings.HasPrefix(shard, ".") {
			return nil, fmt.Errorf("model: %w: %s: tensor %q is in shard %q, want a file name in the folder", ErrWeights, indexPath, name, shard)
		}
		byShard[shard] = append(byShard[shard], name)
	}
	shards := make([]string, 0, len(byShard))
	for s := range byShard {
		shards = append(shards, s)
	}
	sort.Strings(shards)
	var all []*safetensors.Tensor
	for _, shard := range shards {
		path := filepath.Join(dir, shard)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("model: %w: %s names shard %s, which is missing", ErrWeights, indexPath, shard)
		}
		f, err := safetensors.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		names := byShard[shard]
		sort.Strings(names)
		for _, name := range names {
			if f.Tensor(name) == nil {
				return nil, fmt.Errorf("model: %w: %s puts %s in %s, which does not hold it", ErrWeights, indexPath, name, shard)
			}
		}
		for _, t := range f.Tensors {
			if index.WeightMap[t.Name] != shard {
				return nil, fmt.Errorf("model: %w: %s holds %s, which %s does not list there", ErrWeights, shard, t.Name, WeightIndexFile)
			}
		}
		all = append(all, f.Tensors...)
	}
	return NewWeights(all...)
}
