package model_test

import (
	"fmt"
	"os"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
)

// From a Hugging Face checkpoint folder to generated ids. The folder here is a
// tiny random Llama written by the example itself; a real one (config.json and
// model.safetensors, or shards with model.safetensors.index.json) loads the same
// way. On an OpenCL device, open it with gpu.Open("opencl") instead of cpuref.New().
func ExampleLoadCheckpoint() {
	dir, err := os.MkdirTemp("", "tiny-llama")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cfg := model.LlamaConfig{Architecture: "LlamaForCausalLM", VocabSize: 100, Hidden: 64, Intermediate: 128,
		Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16, RMSNormEps: 1e-5, RopeTheta: 500000}
	if err := model.WriteRandomCheckpoint(dir, cfg, backend.BFloat16, 42); err != nil {
		fmt.Println(err)
		return
	}

	be := cpuref.New()
	defer be.Close()
	lm, err := model.LoadCheckpoint(be, dir) // bfloat16 weights stay bfloat16
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lm.Close()
	prompts := [][]int{{0, 0, 7, 8, 9}, {1, 2, 3, 4, 5}} // row 0 is left-padded
	mask := [][]int{{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}}
	cache, err := lm.NewCache(len(prompts), 16, backend.Float16) // room for 16 tokens a row
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cache.Close()
	g, err := lm.Greedy(cache, prompts, mask, model.GreedyOptions{MaxNewTokens: 6})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Architecture, "generated", len(g.IDs[0]), "and", len(g.IDs[1]), "ids; cache holds", cache.Len(), "positions")
	// Output: LlamaForCausalLM generated 6 and 6 ids; cache holds 10 positions
}
