package main

import (
	"fmt"
	"io"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
)

func init() {
	register("random-model", "write a Llama checkpoint folder of real shapes with random weights (for generate and benchmarks)", cmdRandomModel)
}

// modelPresets are the shapes random-model writes by name.
var modelPresets = map[string]model.LlamaConfig{
	// Llama-3.2-1B's config.json: its shapes and its rope_scaling.
	"llama-3.2-1b": {Architecture: "LlamaForCausalLM", VocabSize: 128256, Hidden: 2048, Intermediate: 8192, Layers: 16,
		Heads: 32, KVHeads: 8, HeadDim: 64, RMSNormEps: 1e-5, RopeTheta: 500000, TieWordEmbeddings: true,
		RopeScaling: backend.RopeScaling{Type: backend.RopeLlama3, Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4,
			OriginalMaxPositions: 8192}},
	"tiny": {Architecture: "LlamaForCausalLM", VocabSize: 256, Hidden: 64, Intermediate: 160, Layers: 2,
		Heads: 4, KVHeads: 2, HeadDim: 16, RMSNormEps: 1e-5, RopeTheta: 10000},
}

func cmdRandomModel(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("random-model", stderr, "--out DIR [--preset llama-3.2-1b|tiny] [--layers N] [--vocab N] [--dtype bf16|f16|f32] [--seed N]")
	var out, preset, dtypeText string
	var layers, vocab int
	var seed uint64
	fs.StringVar(&out, "out", "", "folder to write config.json and model.safetensors into (required; must not hold a checkpoint)")
	fs.StringVar(&preset, "preset", "llama-3.2-1b", "shapes: llama-3.2-1b or tiny")
	fs.IntVar(&layers, "layers", 0, "number of layers (default: the preset's)")
	fs.IntVar(&vocab, "vocab", 0, "vocabulary size (default: the preset's)")
	fs.StringVar(&dtypeText, "dtype", "bf16", "weight dtype: bf16, f16 or f32")
	fs.Uint64Var(&seed, "seed", 1, "random seed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if out == "" {
		return usageErrorf(fs, "--out is required")
	}
	cfg, ok := modelPresets[preset]
	if !ok {
		return usageErrorf(fs, "--preset %q: want llama-3.2-1b or tiny", preset)
	}
	if layers < 0 || vocab < 0 {
		return usageErrorf(fs, "--layers and --vocab: want > 0")
	}
	if layers > 0 {
		cfg.Layers = layers
	}
	if vocab > 0 {
		cfg.VocabSize = vocab
	}
	dtype, err := backend.ParseDType(dtypeText)
	if err != nil {
		return usageErrorf(fs, "--dtype %q: want bf16, f16 or f32", dtypeText)
	}
	if err := model.WriteRandomCheckpoint(out, cfg, dtype, seed); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "random-model: %s: %s shapes, %d layers, vocab %d, %v weights\n", out, preset, cfg.Layers, cfg.VocabSize, dtype)
	return nil
}
