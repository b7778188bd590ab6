package model_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// tinyLlama is a small grouped-query configuration (3 query heads per K/V head).
var tinyLlama = model.LlamaConfig{Architecture: "LlamaForCausalLM", VocabSize: 53, Hidden: 48, Intermediate: 80,
	Layers: 2, Heads: 6, KVHeads: 2, HeadDim: 8, RMSNormEps: 1e-5, RopeTheta: 10000}

// writeTiny writes a random tiny checkpoint folder and returns its path.
func writeTiny(t *testing.T, cfg model.LlamaConfig, dtype backend.DType) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := model.WriteRandomCheckpoint(dir, cfg, dtype, 7); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadTiny(t *testing.T, be backend.Backend, dir string) *model.CausalLM {
	t.Helper()
	lm, err := model.LoadCheckpoint(be, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close() })
	return lm
}

// logitsOf runs ids through a fresh cache and returns the logits.
func logitsOf(t *testing.T, be backend.Backend, lm *model.CausalLM, ids, mask [][]int) []float32 {
	t.Helper()
	cache, err := lm.NewCache(len(ids), len(ids[0]), backend.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	out, err := lm.Forward(cache, ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	got := make([]float32, out.Shape().Numel())
	if err := be.Download(got, out); err != nil {
		t.Fatal(err)
	}
	return got
}

// relDiff is max|a-b| relative to the largest |b|.
func relDiff(a, b []float32) float64 {
	s := 0.0
	for _, x := range b {
		s = math.Max(s, math.Abs(float64(x)))
	}
	return maxDiff(a, b) / math.Max(s, 1e-30)
}

// TestLeftPaddingGivesUnpaddedLogits: a left-padded row (positions
// cumsum(mask)-1, pads masked) gives the logits of its tokens alone, and the
// other row of the batch is unaffected.
func TestLeftPaddingGivesUnpaddedLogits(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	lm := loadTiny(t, be, writeTiny(t, tinyLlama, backend.Float32))
	v := tinyLlama.VocabSize
	tokens := []int{5, 17, 2, 44, 9}
	other := []int{1, 2, 3, 4, 5, 6, 7, 8}
	alone := logitsOf(t, be, lm, [][]int{tokens}, nil)
	otherAlone := logitsOf(t, be, lm, [][]int{other}, nil)
	padded := append([]int{0, 0, 0}, tokens...)
	batch := logitsOf(t, be, lm, [][]int{padded, other}, [][]int{{0, 0, 0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1}})
	if d := relDiff(batch[3*v:8*v], alone); d > 1e-5 {
		t.Errorf("left-padded row differs from the unpadded tokens by %.3g (relative)", d)
	}
	if d := relDiff(batch[8*v:], otherAlone); d > 1e-5 {
		t.Errorf("the unpadded row of the batch differs from itself alone by %.3g (relative)", d)
	}
}

// TestStepsMatchForward: prefill then one token at a time through the cache
// gives the logits of one forward over the whole sequence.
func TestStepsMatchForward(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	lm := loadTiny(t, be, writeTiny(t, tinyLlama, backend.Float32))
	v := tinyLlama.VocabSize
	ids := [][]int{{3, 1, 4, 1, 5, 9, 2, 6}, {2, 7, 1, 8, 2, 8, 1, 8}}
	full := logitsOf(t, be, lm, ids, nil)
	cache, err := lm.NewCache(2, 8, backend.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	out, err := lm.Forward(cache, [][]int{ids[0][:3], ids[1][:3]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Release()
	for p := 3; p < 8; p++ {
		step, err := lm.Step(cache, [][]int{{ids[0][p]}, {ids[1][p]}})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 2*v)
		if err := be.Download(got, step); err != nil {
			t.Fatal(err)
		}
		step.Release()
		for r := range 2 {
			if d := relDiff(got[r*v:(r+1)*v], full[(r*8+p)*v:(r*8+p+1)*v]); d > 1e-5 {
				t.Errorf("row %d position %d: step logits differ from the full forward by %.3g", r, p, d)
			}
		}
	}
	if cache.Len() != 8 {
		t.Errorf("cache length %d after 8 tokens", cache.Len())
	}
	if _, err := lm.Step(cache, [][]int{{1}, {1}}); !errors.Is(err, backend.ErrShape) || !strings.Contains(err.Error(), "capacity 8") {
		t.Errorf("a step past the capacity: got %v, want ErrShape naming the capacity", err)
	}
	// Back to 5 positions: the step at position 5 again gives its logits again.
	if err := cache.SetLen(5); err != nil {
		t.Fatal(err)
	}
	step, err := lm.Step(cache, [][]int{{ids[0][5]}, {ids[1][5]}})
	if err != nil {
		t.Fatal(err)
	}
	defer step.Release()
	got := make([]float32, 2*v)
	if err := be.Download(got, step); err != nil {
		t.Fatal(err)
	}
	if d := relDiff(got[:v], full[5*v:6*v]); d > 1e-5 {
		t.Errorf("after SetLen(5), the step at position 5 differs from the full forward by %.3g", d)
	}
	if err := cache.SetLen(9); !errors.Is(err, backend.ErrShape) {
		t.Errorf("SetLen(9) of a cache of 8: got %v, want ErrShape", err)
	}
}

// TestGreedy: greedy decoding picks the argmax of the step logits, and the
// ids are the same through a float16 cache on this small model.
func TestGreedy(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	lm := loadTiny(t, be, writeTiny(t, tinyLlama, backend.Float32))
	prompt := [][]int{{11, 12, 13}}
	cache, err := lm.NewCache(1, 8, backend.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	g, err := lm.Greedy(cache, prompt, nil, model.GreedyOptions{MaxNewTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.IDs) != 1 || len(g.IDs[0]) != 5 {
		t.Fatalf("Greedy returned %v, want 5 ids", g.IDs)
	}
	// Each id is the argmax of the full forward over the prompt and the ids before it.
	seq := append([]int(nil), prompt[0]...)
	v := tinyLlama.VocabSize
	for i, id := range g.IDs[0] {
		logits := logitsOf(t, be, lm, [][]int{seq}, nil)
		last := logits[(len(seq)-1)*v:]
		best := 0
		for j, x := range last {
			if x > last[best] {
				best = j
			}
		}
		if best != id {
			t.Fatalf("new token %d is %d, the forward's argmax is %d", i, id, best)
		}
		seq = append(seq, id)
	}
	if _, err := lm.Greedy(cache, prompt, nil, model.GreedyOptions{MaxNewTokens: 7}); !errors.Is(err, backend.ErrShape) {
		t.Errorf("3 + 7 tokens in a cache of 8: got %v, want ErrShape", err)
	}
	if _, err := lm.Greedy(cache, prompt, nil, model.GreedyOptions{}); !errors.Is(err, backend.ErrArgument) {
		t.Errorf("max new 0: got %v, want ErrArgument", err)
	}
}

// TestShardedCheckpoint: the same weights split over two shards with an index
// load to the same model as one file.
func TestShardedCheckpoint(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	dir := writeTiny(t, tinyLlama, backend.Float32)
	ids := [][]int{{4, 8, 15, 16, 23, 42}}
	want := logitsOf(t, be, loadTiny(t, be, dir), ids, nil)
	shardDir := splitCheckpoint(t, dir)
	got := logitsOf(t, be, loadTiny(t, be, shardDir), ids, nil)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("sharded checkpoint: logit %d is %g, the single file gives %g", i, got[i], want[i])
		}
	}
}

// splitCheckpoint copies dir into a new folder with its weights in two shards
// and an index, as Hugging Face saves large models.
func splitCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join(dir, model.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sharded")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, model.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(out, model.ConfigFile), cfg)
	names := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
	half := len(f.Tensors) / 2
	weightMap := map[string]string{}
	for i, part := range [][]*safetensors.Tensor{f.Tensors[:half], f.Tensors[half:]} {
		for _, ts := range part {
			weightMap[ts.Name] = names[i]
		}
		if err := safetensors.WriteFile(filepath.Join(out, names[i]), part, nil); err != nil {
			t.Fatal(err)
		}
	}
	index, err := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(out, model.WeightIndexFile), index)
	return out
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointErrors: every bad folder is one error naming what is wrong.
func TestCheckpointErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	good := writeTiny(t, tinyLlama, backend.Float32)
	config, err := os.ReadFile(filepath.Join(good, model.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	weights, err := safetensors.ReadFile(filepath.Join(good, model.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	// folder writes a checkpoint folder with config.json changed by edit (nil:
	// none) and the weights changed by tensors.
	folder := func(edit func(map[string]any), tensors func([]*safetensors.Tensor) []*safetensors.Tensor) string {
		dir := t.TempDir()
		if edit != nil {
			var c map[string]any
			if err := json.Unmarshal(config, &c); err != nil {
				t.Fatal(err)
			}
			edit(c)
			b, _ := json.Marshal(c)
			writeFile(t, filepath.Join(dir, model.ConfigFile), b)
		}
		ts := append([]*safetensors.Tensor(nil), weights.Tensors...)
		if tensors != nil {
			ts = tensors(ts)
		}
		if err := safetensors.WriteFile(filepath.Join(dir, model.WeightsFile), ts, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	keep := func(c map[string]any) {}
	without := func(name string) func([]*safetensors.Tensor) []*safetensors.Tensor {
		return func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			var out []*safetensors.Tensor
			for _, x := range ts {
				if x.Name != name {
					out = append(out, x)
				}
			}
			return out
		}
	}
	tied := tinyLlama
	tied.TieWordEmbeddings = true
	tiedDir := writeTiny(t, tied, backend.Float32)
	tiedWeights, err := safetensors.ReadFile(filepath.Join(tiedDir, model.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	tiedFolder := func(head []float32) string {
		dir := t.TempDir()
		cfg, err := os.ReadFile(filepath.Join(tiedDir, model.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, model.ConfigFile), cfg)
		ts := append([]*safetensors.Tensor(nil), tiedWeights.Tensors...)
		ts = append(ts, safetensors.FromFloat32("lm_head.weight", head, tied.VocabSize, tied.Hidden))
		if err := safetensors.WriteFile(filepath.Join(dir, model.WeightsFile), ts, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	embed, err := tiedWeights.Tensor("model.embed_tokens.weight").Float32s()
	if err != nil {
		t.Fatal(err)
	}
	lm, err := model.LoadCheckpoint(be, tiedFolder(embed))
	if err != nil {
		t.Errorf("a tied checkpoint that also stores lm_head.weight (the embedding itself): %v", err)
	} else {
		lm.Close()
	}
	sharded := splitCheckpoint(t, good)
	if err := os.Remove(filepath.Join(sharded, "model-00002-of-00002.safetensors")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		dir  string
		want error
		says string
	}{
		{"no config", folder(nil, nil), model.ErrConfig, "config.json"},
		{"other architecture", folder(func(c map[string]any) { c["architectures"] = []string{"GPT2LMHeadModel"} }, nil), model.ErrConfig, "GPT2LMHeadModel"},
		{"rope_scaling", folder(func(c map[string]any) { c["rope_scaling"] = map[string]any{"type": "yarn", "factor": 2} }, nil), model.ErrConfig, `rope_type "yarn" is not supported`},
		{"hidden_act", folder(func(c map[string]any) { c["hidden_act"] = "gelu" }, nil), model.ErrConfig, "hidden_act"},
		{"missing size", folder(func(c map[string]any) { delete(c, "hidden_size") }, nil), model.ErrConfig, "hidden_size"},
		{"heads", folder(func(c map[string]any) { c["num_key_value_heads"] = 4 }, nil), model.ErrConfig, "num_key_value_heads"},
		{"missing tensor", folder(keep, without("model.layers.1.mlp.up_proj.weight")), model.ErrWeights, "missing model.layers.1.mlp.up_proj.weight"},
		{"extra tensor", folder(keep, func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			return append(ts, safetensors.FromFloat32("model.layers.9.junk", []float32{1}, 1))
		}), model.ErrWeights, "unexpected model.layers.9.junk"},
		{"mis-shaped tensor", folder(keep, func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			ts = without("model.norm.weight")(ts)
			return append(ts, safetensors.FromFloat32("model.norm.weight", make([]float32, 47), 47))
		}), model.ErrWeights, "model.norm.weight is [47], want [48]"},
		{"missing shard", sharded, model.ErrWeights, "model-00002-of-00002.safetensors, which is missing"},
		{"tied but another lm_head", tiedFolder(make([]float32, len(embed))), model.ErrWeights, "lm_head.weight differs from model.embed_tokens.weight"},
		{"no weights", func() string {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, model.ConfigFile), config)
			return dir
		}(), model.ErrWeights, "model.safetensors"},
	}
	for _, c := range cases {
		lm, err := model.LoadCheckpoint(be, c.dir)
		if lm != nil {
			lm.Close()
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %v, want %v saying %q", c.name, err, c.want, c.says)
		}
	}
}

// TestBadTokens: ids outside the vocabulary, ragged rows and prompts longer than
// the cache are errors naming them.
func TestBadTokens(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	lm := loadTiny(t, be, writeTiny(t, tinyLlama, backend.Float32))
	cache, err := lm.NewCache(2, 4, backend.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	for _, c := range []struct {
		ids, mask [][]int
		want      error
		says      string
	}{
		{[][]int{{1, 2}, {3, 53}}, nil, backend.ErrArgument, "token id 53"},
		{[][]int{{1, 2}, {3, -1}}, nil, backend.ErrArgument, "token id -1"},
		{[][]int{{1, 2}, {3}}, nil, backend.ErrShape, "row 1 has 1 token ids"},
		{[][]int{{1, 2}}, nil, backend.ErrShape, "batch 2"},
		{[][]int{{1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}}, nil, backend.ErrShape, "capacity 4"},
		{[][]int{{1, 2}, {3, 4}}, [][]int{{1, 2}, {1, 1}}, backend.ErrArgument, "attention mask [0][1] = 2"},
	} {
		out, err := lm.Forward(cache, c.ids, c.mask)
		if out != nil {
			out.Release()
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ids %v: got %v, want %v saying %q", c.ids, err, c.want, c.says)
		}
	}
}

// TestParseLlamaConfig reads the three architectures' defaults and refuses
// what would change the math, naming the field.
func TestParseLlamaConfig(t *testing.T) {
	base := `"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4`
	parse := func(extra string) (model.LlamaConfig, error) {
		return model.ParseLlamaConfig([]byte("{" + base + "," + extra + "}"))
	}
	c, err := parse(`"architectures": ["Qwen2ForCausalLM"], "num_key_value_heads": 2, "sliding_window": 32, "use_sliding_window": false, "rope_theta": 1000000.0`)
	if err != nil {
		t.Fatal(err)
	}
	if !c.AttentionBias || c.SlidingWindow != 0 || c.KVHeads != 2 || c.HeadDim != 16 || c.RopeTheta != 1e6 || c.RMSNormEps != 1e-6 {
		t.Errorf("Qwen2 config read as %+v: want q/k/v biases, no window (use_sliding_window false), 2 K/V heads, head dim 16, theta 1e6, eps 1e-6", c)
	}
	c, err = parse(`"architectures": ["MistralForCausalLM"], "sliding_window": 4096, "rms_norm_eps": 1e-5, "rope_scaling": null`)
	if err != nil {
		t.Fatal(err)
	}
	if c.AttentionBias || c.SlidingWindow != 4096 || c.KVHeads != 4 || c.RMSNormEps != 1e-5 {
		t.Errorf("Mistral config read as %+v", c)
	}
	be := cpuref.New()
	defer be.Close()
	c.VocabSize, c.Layers = 16, 1
	w, err := model.RandomWeights(c, backend.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := model.LoadCausalLM(be, c, w)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	if _, err := lm.NewCache(1, 8192, backend.Float32); !errors.Is(err, model.ErrConfig) || !strings.Contains(err.Error(), "sliding_window 4096") {
		t.Errorf("a cache past the sliding window: got %v, want ErrConfig naming sliding_window", err)
	}
	for _, bad := range []struct{ extra, says string }{
		{`"architectures": ["LlamaForCausalLM"], "rope_scaling": {"rope_type": "llama3", "factor": 32.0}`, "low_freq_factor is missing"},
		{`"architectures": ["LlamaForCausalLM"], "mlp_bias": true`, "mlp_bias"},
		{`"architectures": ["LlamaForCausalLM"], "partial_rotary_factor": 0.5`, "partial_rotary_factor"},
		{`"architectures": ["LlamaForCausalLM"], "head_dim": 15`, "head_dim 15"},
		{`"architectures": ["LlamaForCausalLM"], "hidden_size": "wide"`, "hidden_size"},
		{`"architectures": ["LlamaForCausalLM", "MistralForCausalLM"]`, "architectures"},
	} {
		if _, err := parse(bad.extra); !errors.Is(err, model.ErrConfig) || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s: got %v, want ErrConfig naming %s", bad.extra, err, bad.says)
		}
	}
}

// TestParseRopeScaling reads the rope_scaling of Llama 3.1 (and its older
// spelling "type"), linear and default, and refuses every other rope_type,
// missing and unknown keys and bad values, naming them.
func TestParseRopeScaling(t *testing.T) {
	base := `{"architectures": ["LlamaForCausalLM"], "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
		"num_hidden_layers": 2, "num_attention_heads": 4, "rope_theta": 500000.0, "rope_scaling": `
	llama31 := backend.RopeScaling{Type: backend.RopeLlama3, Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}
	for _, c := range []struct {
		json string
		want backend.RopeScaling
	}{
		{`{"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}`, llama31},
		{`{"type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}`, llama31},
		{`{"type": "llama3", "rope_type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}`, llama31},
		{`{"type": "linear", "factor": 2.0}`, backend.RopeScaling{Type: backend.RopeLinear, Factor: 2}},
		{`{"rope_type": "default"}`, backend.RopeScaling{}},
		{`null`, backend.RopeScaling{}},
	} {
		cfg, err := model.ParseLlamaConfig([]byte(base + c.json + "}"))
		if err != nil {
			t.Errorf("%s: %v", c.json, err)
			continue
		}
		if cfg.RopeScaling != c.want {
			t.Errorf("%s: read as %+v, want %+v", c.json, cfg.RopeScaling, c.want)
		}
		want := c.want.InverseFrequencies(500000, 16)
		for i, w := range cfg.RopeFrequencies() {
			if w != want[i] {
				t.Errorf("%s: frequency %d is %g, want %g", c.json, i, w, want[i])
			}
		}
	}
	for _, bad := range []struct{ json, says string }{
		{`{"rope_type": "dynamic", "factor": 2.0}`, `rope_type "dynamic" is not supported`},
		{`{"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}`, `rope_type "yarn" is not supported`},
		{`{"type": "longrope", "long_factor": [1], "short_factor": [1]}`, `rope_type "longrope" is not supported`},
		{`{"type": "su", "long_factor": [1], "short_factor": [1]}`, `rope_type "su" is not supported`},
		{`{"factor": 2.0}`, "no rope_type"},
		{`{"rope_type": "linear", "type": "dynamic", "factor": 2.0}`, `rope_type "linear" and type "dynamic" differ`},
		{`{"rope_type": "linear", "factor": 2.0, "attention_factor": 0.5}`, `key "attention_factor" is not supported with rope_type linear`},
		{`{"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "mscale": 1.0}`, `key "mscale"`},
		{`{"rope_type": "default", "factor": 2.0}`, `key "factor" is not supported with rope_type default`},
		{`{"rope_type": "linear"}`, "factor is missing"},
		{`{"rope_type": "linear", "factor": "two"}`, `factor is "two", want a number`},
		{`{"rope_type": "linear", "factor": 0}`, "factor = 0"},
		{`{"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 4.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}`, "high_freq_factor 4, want > low_freq_factor 4"},
		{`{"rope_type": 3}`, "rope_type is not a string"},
		{`[1, 2]`, "want a JSON object"},
	} {
		if _, err := model.ParseLlamaConfig([]byte(base + bad.json + "}")); !errors.Is(err, model.ErrConfig) ||
			!strings.Contains(err.Error(), "rope_scaling") || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s: got %v, want ErrConfig naming rope_scaling and saying %s", bad.json, err, bad.says)
		}
	}
}

// TestRopeScalingReachesRotary: a checkpoint written with a llama3
// rope_scaling loads with it, and its logits equal the unscaled model's at
// position 0 (every angle is 0 there) and differ after, where the scaled
// frequencies turn the pairs less.
func TestRopeScalingReachesRotary(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	scaled := tinyLlama
	scaled.RopeScaling = backend.RopeScaling{Type: backend.RopeLlama3, Factor: 16, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 32}
	lm := loadTiny(t, be, writeTiny(t, scaled, backend.Float32))
	if got := lm.Config().RopeScaling; got != scaled.RopeScaling {
		t.Fatalf("loaded rope_scaling %+v, want %+v", got, scaled.RopeScaling)
	}
	plain := loadTiny(t, be, writeTiny(t, tinyLlama, backend.Float32))
	ids := [][]int{{7, 3, 9, 30, 1, 2}}
	a, b := logitsOf(t, be, lm, ids, nil), logitsOf(t, be, plain, ids, nil)
	v := tinyLlama.VocabSize
	if d := maxDiff(a[:v], b[:v]); d != 0 {
		t.Errorf("position 0: scaled and unscaled logits differ by %g, want equal", d)
	}
	if d := relDiff(a[v:], b[v:]); d < 1e-3 {
		t.Errorf("positions 1..5: scaled and unscaled logits differ by only %.3g (relative): the scaling did not reach Rotary", d)
	}
}
