package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/outfile"
	"github.com/clattn/clattn/model"
)

func init() {
	register("generate", "greedy decoding with a Hugging Face Llama/Mistral/Qwen2 checkpoint folder", cmdGenerate)
}

const generateUsage = "--model DIR --prompt-ids 1,2,3 --max-new-tokens N [--ignore-eos] [--capacity N] [--kv-dtype f16|f32] [--device D] [--json F]\n\n" +
	"DIR holds config.json and model.safetensors (or the shards of model.safetensors.index.json), and\n" +
	"optionally generation_config.json. Generation stops at an eos_token_id (generation_config.json's, else\n" +
	"config.json's), which is printed as the last id, or after N new tokens.\n" +
	"Prints the new token ids as one line \"ids: a,b,c\", then the prefill time and the decode speed."

// generateReport is what --json writes.
type generateReport struct {
	IDs              []int    `json:"ids"`
	StoppedAtEOS     bool     `json:"stopped_at_eos"` // the last id is an eos_token_id
	PromptTokens     int      `json:"prompt_tokens"`
	PrefillMS        float64  `json:"prefill_ms"`
	DecodeTokensPerS *float64 `json:"decode_tokens_per_s"` // null with one new token (no decode step)
	Device           string   `json:"device"`
	KVDType          string   `json:"kv_dtype"`
}

func cmdGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", stderr, generateUsage)
	var dir, idsText, kvText, device, jsonPath string
	var maxNew, capacity int
	var ignoreEOS bool
	fs.StringVar(&dir, "model", "", "Hugging Face checkpoint folder (required)")
	fs.StringVar(&idsText, "prompt-ids", "", "prompt token ids, comma-separated (required)")
	fs.IntVar(&maxNew, "max-new-tokens", 16, "the most new tokens to generate (>= 1)")
	fs.BoolVar(&ignoreEOS, "ignore-eos", false, "generate --max-new-tokens tokens, past any eos_token_id (benchmarks)")
	fs.IntVar(&capacity, "capacity", 0, "KV cache capacity in tokens (default: prompt + max-new-tokens)")
	fs.StringVar(&kvText, "kv-dtype", "f16", "KV cache dtype: f16 or f32")
	fs.StringVar(&device, "device", "", "device spec (default $CLATTN_DEVICE or auto)")
	fs.StringVar(&jsonPath, "json", "", "write the ids and timings as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if dir == "" || idsText == "" {
		return usageErrorf(fs, "--model and --prompt-ids are required")
	}
	prompt, err := parseIDs(idsText)
	if err != nil {
		return usageErrorf(fs, "--prompt-ids %q: %v", idsText, err)
	}
	if maxNew < 1 {
		return usageErrorf(fs, "--max-new-tokens %d: want >= 1", maxNew)
	}
	if capacity < 0 {
		return usageErrorf(fs, "--capacity %d: want > 0", capacity)
	}
	if capacity == 0 {
		capacity = len(prompt) + maxNew
	}
	kvType, err := backend.ParseDType(kvText)
	if err != nil || (kvType != backend.Float16 && kvType != backend.Float32) {
		return usageErrorf(fs, "--kv-dtype %q: want f16 or f32", kvText)
	}
	if need := len(prompt) + maxNew - 1; need > capacity {
		return fmt.Errorf("a prompt of %d tokens and %d new ones need %d cache positions, more than --capacity %d",
			len(prompt), maxNew, need, capacity)
	}
	cfg, err := model.ReadCheckpointConfig(dir)
	if err != nil {
		return err
	}
	out := generateOutput(jsonPath, dir)
	if jsonPath != "" {
		if err := out.Check(); err != nil {
			return err
		}
	}
	for i, id := range prompt {
		if id >= cfg.VocabSize {
			return fmt.Errorf("--prompt-ids: id %d (position %d) is outside the vocabulary of %s (vocab_size %d)", id, i, dir, cfg.VocabSize)
		}
	}
	b, err := clattn.Open(device)
	if err != nil {
		return err
	}
	defer b.Close()
	lm, err := model.LoadCheckpoint(b, dir)
	if err != nil {
		return err
	}
	defer lm.Close()
	cache, err := lm.NewCache(1, capacity, kvType)
	if err != nil {
		return err
	}
	defer cache.Close()
	g, err := lm.Greedy(cache, [][]int{prompt}, nil, model.GreedyOptions{MaxNewTokens: maxNew, IgnoreEOS: ignoreEOS})
	if err != nil {
		return err
	}
	rep := generateReport{IDs: g.IDs[0], StoppedAtEOS: g.Finished[0], PromptTokens: len(prompt),
		PrefillMS: float64(g.Prefill.Microseconds()) / 1000, Device: b.Name(), KVDType: kvType.String()}
	steps := len(rep.IDs) - 1 // one sequence: no padding, every id is a generated token
	if steps > 0 {
		tps := float64(steps) / g.Decode.Seconds()
		rep.DecodeTokensPerS = &tps
	}
	if jsonPath != "" {
		if err := out.Write(func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}); err != nil {
			return err
		}
	}
	parts := make([]string, len(rep.IDs))
	for i, id := range rep.IDs {
		parts[i] = strconv.Itoa(id)
	}
	fmt.Fprintf(stdout, "ids: %s\n", strings.Join(parts, ","))
	decode := "no decode step (one new token)"
	if rep.DecodeTokensPerS != nil {
		decode = fmt.Sprintf("decode %.1f tokens/s (%d steps)", *rep.DecodeTokensPerS, steps)
	}
	stop := ""
	if rep.StoppedAtEOS {
		stop = fmt.Sprintf(", stopped at eos_token_id %d", rep.IDs[len(rep.IDs)-1])
	}
	fmt.Fprintf(stdout, "prefill %.1f ms (%d tokens), %s on %s, KV cache %v%s\n", rep.PrefillMS, len(prompt), decode, b.Name(), kvType, stop)
	return nil
}

// generateOutput is the --json target: never one of the checkpoint's files
// (config.json, generation_config.json, the weights and their shards), never a file that is not a
// generate JSON, written through a temporary file renamed over it.
func generateOutput(path, dir string) outfile.Target {
	inputs := []string{filepath.Join(dir, model.ConfigFile), filepath.Join(dir, model.GenerationConfigFile),
		filepath.Join(dir, model.WeightsFile), filepath.Join(dir, model.WeightIndexFile)}
	if shards, err := filepath.Glob(filepath.Join(dir, "*.safetensors")); err == nil {
		inputs = append(inputs, shards...)
	}
	return outfile.Target{Path: path, Inputs: inputs, Kind: func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var prev map[string]json.RawMessage
		if json.Unmarshal(b, &prev) != nil || prev["ids"] == nil || prev["decode_tokens_per_s"] == nil {
			return errors.New("not a generate JSON")
		}
		return nil
	}}
}

// parseIDs reads comma-separated non-negative token ids.
func parseIDs(s string) ([]int, error) {
	var ids []int
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || id < 0 {
			return nil, fmt.Errorf("%q is not a token id (want integers >= 0, comma-separated)", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
