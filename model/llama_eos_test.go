package model_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
)

// withTokens writes a copy of the checkpoint dir whose config.json gets the
// fields config and, where gen is not nil, a generation_config.json of gen.
func withTokens(t *testing.T, dir string, config, gen map[string]any) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ckpt")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, model.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for k, v := range config {
		c[k] = v
	}
	b, _ = json.Marshal(c)
	writeFile(t, filepath.Join(out, model.ConfigFile), b)
	if gen != nil {
		b, _ = json.Marshal(gen)
		writeFile(t, filepath.Join(out, model.GenerationConfigFile), b)
	}
	w, err := os.ReadFile(filepath.Join(dir, model.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(out, model.WeightsFile), w)
	return out
}

// greedy runs Greedy on prompts (no padding) with a cache of room enough.
func greedy(t *testing.T, lm *model.CausalLM, prompts [][]int, opt model.GreedyOptions) (model.Generation, int) {
	t.Helper()
	cache, err := lm.NewCache(len(prompts), len(prompts[0])+opt.MaxNewTokens, backend.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	g, err := lm.Greedy(cache, prompts, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	return g, cache.Len()
}

// TestGreedyStopsAtEOS: with the EOS ids chosen among the tokens a first run
// (without EOS) generates, a row ends at its first EOS id and is padded after
// it while the other row goes on unchanged; Greedy returns as soon as every
// row has ended; IgnoreEOS runs every step.
func TestGreedyStopsAtEOS(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	base := writeTiny(t, tinyLlama, backend.Float32)
	prompts := [][]int{{11, 12, 13}, {40, 2, 17}}
	const maxNew = 8
	free, _ := greedy(t, loadTiny(t, be, base), prompts, model.GreedyOptions{MaxNewTokens: maxNew})
	if !slices.Equal(free.Lengths, []int{maxNew, maxNew}) || free.Finished[0] || free.Finished[1] {
		t.Fatalf("without EOS ids: lengths %v, finished %v, want %d tokens a row, none finished", free.Lengths, free.Finished, maxNew)
	}
	// first is the step at which row r first generates id, -1 if never.
	first := func(r, id int) int { return slices.Index(free.IDs[r], id) }
	// eos: a token row 0 first generates at a step s in 1..5 and row 1 never
	// does, so row 0 ends after s+1 tokens and row 1 runs to maxNew.
	eos, stop := -1, -1
	for s := 1; s <= 5 && eos < 0; s++ {
		if id := free.IDs[0][s]; first(0, id) == s && first(1, id) < 0 {
			eos, stop = id, s
		}
	}
	if eos < 0 {
		t.Fatalf("no token of row 0 (%v) that row 1 (%v) never generates: pick other prompts", free.IDs[0], free.IDs[1])
	}
	pad := (eos + 1) % tinyLlama.VocabSize
	lm := loadTiny(t, be, withTokens(t, base, map[string]any{"eos_token_id": eos, "pad_token_id": pad}, nil))
	if c := lm.Config(); !slices.Equal(c.EOSTokenIDs, []int{eos}) || c.PadTokenID != pad {
		t.Fatalf("config read as eos %v, pad %d, want [%d] and %d", c.EOSTokenIDs, c.PadTokenID, eos, pad)
	}
	g, _ := greedy(t, lm, prompts, model.GreedyOptions{MaxNewTokens: maxNew})
	want0 := append(slices.Clone(free.IDs[0][:stop+1]), slices.Repeat([]int{pad}, maxNew-stop-1)...)
	if !slices.Equal(g.IDs[0], want0) || g.Lengths[0] != stop+1 || !g.Finished[0] {
		t.Errorf("row 0 with eos %d: ids %v (length %d, finished %v), want %v (length %d, finished)",
			eos, g.IDs[0], g.Lengths[0], g.Finished[0], want0, stop+1)
	}
	if !slices.Equal(g.IDs[1], free.IDs[1]) || g.Lengths[1] != maxNew || g.Finished[1] {
		t.Errorf("row 1: ids %v (length %d, finished %v), want %v, unfinished: the other row's end changed it",
			g.IDs[1], g.Lengths[1], g.Finished[1], free.IDs[1])
	}

	// Both rows end early (the list form: row 1's id first, so it pads with
	// it), at different steps: Greedy stops after the later one.
	e1 := -1
	for s := 0; s < maxNew-1 && e1 < 0; s++ {
		if id := free.IDs[1][s]; first(1, id) == s && (first(0, id) < 0 || first(0, id) > stop) {
			e1 = id
		}
	}
	if e1 < 0 {
		t.Fatalf("no early token of row 1 (%v) that row 0 (%v) does not generate first", free.IDs[1], free.IDs[0])
	}
	end1 := first(1, e1)
	lm = loadTiny(t, be, withTokens(t, base, map[string]any{"eos_token_id": []int{e1, eos}}, nil))
	if c := lm.Config(); c.PadTokenID != e1 {
		t.Errorf("no pad_token_id: pad %d, want the first EOS id %d", c.PadTokenID, e1)
	}
	g, cached := greedy(t, lm, prompts, model.GreedyOptions{MaxNewTokens: maxNew})
	steps := max(stop, end1) + 1
	if len(g.IDs[0]) != steps || len(g.IDs[1]) != steps || !g.Finished[0] || !g.Finished[1] ||
		!slices.Equal(g.Lengths, []int{stop + 1, end1 + 1}) {
		t.Errorf("eos [%d %d]: ids %v, lengths %v, finished %v, want %d steps, lengths [%d %d], both finished",
			e1, eos, g.IDs, g.Lengths, g.Finished, steps, stop+1, end1+1)
	}
	if cached != 3+steps-1 {
		t.Errorf("cache holds %d positions after %d steps from a prompt of 3, want %d", cached, steps, 3+steps-1)
	}

	g, _ = greedy(t, lm, prompts, model.GreedyOptions{MaxNewTokens: maxNew, IgnoreEOS: true})
	if !slices.Equal(g.IDs[0], free.IDs[0]) || !slices.Equal(g.IDs[1], free.IDs[1]) || g.Finished[0] || g.Finished[1] {
		t.Errorf("IgnoreEOS: ids %v, finished %v, want %v, none finished", g.IDs, g.Finished, free.IDs)
	}

	// generation_config.json's eos_token_id and pad_token_id win over config.json's.
	never := -1 // an id neither row generates
	for id := range tinyLlama.VocabSize {
		if first(0, id) < 0 && first(1, id) < 0 {
			never = id
			break
		}
	}
	if never < 0 {
		t.Fatal("every id of the vocabulary was generated")
	}
	lm = loadTiny(t, be, withTokens(t, base, map[string]any{"eos_token_id": never, "pad_token_id": 0},
		map[string]any{"eos_token_id": []int{eos}, "pad_token_id": pad, "do_sample": true}))
	if c := lm.Config(); !slices.Equal(c.EOSTokenIDs, []int{eos}) || c.PadTokenID != pad {
		t.Errorf("generation_config.json's eos [%d] and pad %d over config.json's %d and 0: read eos %v, pad %d",
			eos, pad, never, c.EOSTokenIDs, c.PadTokenID)
	}
	// Only eos_token_id in generation_config.json: config.json's pad_token_id stays.
	lm = loadTiny(t, be, withTokens(t, base, map[string]any{"eos_token_id": never, "pad_token_id": 5},
		map[string]any{"eos_token_id": eos}))
	if c := lm.Config(); !slices.Equal(c.EOSTokenIDs, []int{eos}) || c.PadTokenID != 5 {
		t.Errorf("generation_config.json with eos %d alone: read eos %v, pad %d, want [%d] and config.json's pad 5", eos, c.EOSTokenIDs, c.PadTokenID, eos)
	}
}

// TestSpecialTokenErrors: EOS and pad ids outside the vocabulary or of the
// wrong type are an ErrConfig naming the file, the field and the value.
func TestSpecialTokenErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	base := writeTiny(t, tinyLlama, backend.Float32)
	for _, c := range []struct {
		config, gen map[string]any
		says        string
	}{
		{map[string]any{"eos_token_id": 53}, nil, "config.json: eos_token_id 53 is outside the vocabulary [0, 53)"},
		{map[string]any{"eos_token_id": []int{2, -1}}, nil, "config.json: eos_token_id -1 is outside the vocabulary"},
		{map[string]any{"pad_token_id": -1}, nil, "config.json: pad_token_id -1 is outside the vocabulary"},
		{map[string]any{"eos_token_id": "eos"}, nil, `config.json: eos_token_id is "eos", want a token id or a list of them`},
		{map[string]any{"eos_token_id": 2.5}, nil, "config.json: eos_token_id is 2.5, want a token id"},
		{map[string]any{"eos_token_id": 2}, map[string]any{"eos_token_id": []int{2, 100}}, "generation_config.json: model: unsupported model configuration: generation_config.json: eos_token_id 100 is outside the vocabulary [0, 53)"},
		{nil, map[string]any{"pad_token_id": 99}, "generation_config.json: pad_token_id 99 is outside the vocabulary"},
	} {
		lm, err := model.LoadCheckpoint(be, withTokens(t, base, c.config, c.gen))
		if lm != nil {
			lm.Close()
		}
		if !errors.Is(err, model.ErrConfig) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("config %v, generation config %v: got %v, want ErrConfig saying %q", c.config, c.gen, err, c.says)
		}
	}
	// WriteRandomCheckpoint writes the special tokens it is given.
	cfg := tinyLlama
	cfg.EOSTokenIDs, cfg.PadTokenID = []int{3, 4}, 9
	read, err := model.ReadCheckpointConfig(writeTiny(t, cfg, backend.Float32))
	if err != nil || !slices.Equal(read.EOSTokenIDs, cfg.EOSTokenIDs) || read.PadTokenID != 9 {
		t.Errorf("a checkpoint written with eos [3 4], pad 9 reads back as eos %v, pad %d (%v)", read.EOSTokenIDs, read.PadTokenID, err)
	}
	cfg.EOSTokenIDs = []int{60}
	if err := cfg.Validate(); !errors.Is(err, model.ErrConfig) || !strings.Contains(err.Error(), "eos_token_id 60") {
		t.Errorf("Validate of EOSTokenIDs [60] with 53 tokens: got %v, want ErrConfig naming eos_token_id 60", err)
	}
}
