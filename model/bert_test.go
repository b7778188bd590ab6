package model_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/tolerance"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

func tinyBert(t *testing.T, be backend.Backend, prefix string) *model.Bert {
	t.Helper()
	cfg, err := model.ParseBertConfig([]byte(tinyBertConfig))
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.NewWeights(tinyBertTensors(3, prefix)...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.LoadBert(be, cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// TestBertPaddedRowsEqualAlone checks that each row of a right-padded batch of
// unequal lengths gets the hidden states, pooler and embeddings it gets alone,
// and that padding positions of the hidden state are 0: bit for bit on the
// CPU, whose kernels reduce in an order that masked keys and other rows do not
// change; within float32 rounding (sameAsAlone) on OpenCL devices, whose
// kernels tile by the batch's shape.
func TestBertPaddedRowsEqualAlone(t *testing.T) {
	t.Run("cpu", func(t *testing.T) {
		be := cpuref.New()
		defer be.Close()
		checkPaddedRowsEqualAlone(t, tinyBert(t, be, ""), bitForBit)
	})
	for _, dev := range gputest.Devices(t) {
		t.Run(dev.Name(), func(t *testing.T) { checkPaddedRowsEqualAlone(t, tinyBert(t, dev, ""), sameAsAlone) })
	}
}

// TestBertCallsOfOneShape checks that calls of one batch shape, which reuse the
// model's buffers, see nothing of each other: an unpadded batch, a padded one
// of the same shape, then both again give the first results bit for bit, on
// every backend.
func TestBertCallsOfOneShape(t *testing.T) {
	check := func(t *testing.T, be backend.Backend) {
		m := tinyBert(t, be, "")
		padded := [][]int{{1, 7, 12, 2}, {3, 2}, {5}}
		full := [][]int{{4, 8, 16, 2}, {9, 9, 1, 2}, {6, 3, 3, 2}}
		var runs []*model.BertOutput
		for _, ids := range [][][]int{full, padded, full, padded} {
			out, err := m.Forward(ids, nil)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, out)
		}
		if rep := bitForBit(runs[0].Hidden, runs[1].Hidden, runs[0].Dim); rep.OK() {
			t.Fatalf("two batches of different ids gave the same hidden states")
		}
		for i := 2; i < 4; i++ {
			if rep := bitForBit(runs[i].Hidden, runs[i-2].Hidden, runs[i].Dim); !rep.OK() {
				t.Errorf("call %d: hidden states differ from call %d of the same batch: %s", i, i-2, rep)
			}
			if rep := bitForBit(runs[i].Pooler, runs[i-2].Pooler, runs[i].Dim); !rep.OK() {
				t.Errorf("call %d: pooler differs from call %d of the same batch: %s", i, i-2, rep)
			}
		}
	}
	t.Run("cpu", func(t *testing.T) {
		be := cpuref.New()
		defer be.Close()
		check(t, be)
	})
	for _, dev := range gputest.Devices(t) {
		t.Run(dev.Name(), func(t *testing.T) { check(t, dev) })
	}
}

// bitForBit is a report with every differing bit pattern counted over.
func bitForBit(batch, alone []float32, rowLen int) tolerance.Report {
	rep := sameAsAlone(batch, alone, rowLen)
	rep.Over = 0
	for i := range alone {
		if i >= len(batch) || math.Float32bits(batch[i]) != math.Float32bits(alone[i]) {
			rep.Over++
		}
	}
	if len(batch) != len(alone) {
		rep.Over = max(rep.Over, 1)
	}
	return rep
}

func checkPaddedRowsEqualAlone(t *testing.T, m *model.Bert, same func(batch, alone []float32, rowLen int) tolerance.Report) {
	// Lengths 1, 24 (the whole position table), odd and even, shortest first and last.
	ids := [][]int{{1}, {1, 7, 12, 2}, make([]int, 24), {1, 9, 18, 21, 5, 2, 29}, {2, 3}}
	for i := range ids[2] {
		ids[2][i] = (i*7 + 3) % 30
	}
	types := [][]int{{0}, {0, 0, 1, 1}, make([]int, 24), {0, 1, 0, 1, 0, 1, 1}, {1, 0}}
	idsCopy := make([][]int, len(ids))
	for i := range ids {
		idsCopy[i] = slices.Clone(ids[i])
	}
	batch, err := m.Forward(ids, types)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if !slices.Equal(ids[i], idsCopy[i]) {
			t.Fatalf("Forward changed row %d of its input", i)
		}
	}
	if batch.Seq != 24 || batch.Batch != len(ids) || len(batch.Hidden) != len(ids)*24*16 {
		t.Fatalf("batch output is %d x %d x %d (%d values), want %d x 24 x 16", batch.Batch, batch.Seq, batch.Dim, len(batch.Hidden), len(ids))
	}
	e := batch.Dim
	for i := range ids {
		alone, err := m.Forward(ids[i:i+1], types[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		n := len(ids[i])
		row := batch.Hidden[i*batch.Seq*e : (i+1)*batch.Seq*e]
		if rep := same(row[:n*e], alone.Hidden, e); !rep.OK() {
			t.Errorf("row %d (%d tokens): hidden states differ from the row alone: %s", i, n, rep)
		}
		if slices.ContainsFunc(row[n*e:], func(v float32) bool { return v != 0 }) {
			t.Errorf("row %d: padding positions of the hidden state are not 0", i)
		}
		if rep := same(batch.Pooler[i*e:(i+1)*e], alone.Pooler, e); !rep.OK() {
			t.Errorf("row %d: pooler differs from the row alone: %s", i, rep)
		}
		for _, opt := range []model.EmbeddingOptions{{Pooling: model.PoolMean}, {Pooling: model.PoolCLS, Normalize: true}, {Pooling: model.PoolPooler}} {
			b, err := opt.Embed(batch)
			if err != nil {
				t.Fatal(err)
			}
			a, err := opt.Embed(alone)
			if err != nil {
				t.Fatal(err)
			}
			if rep := same(b[i], a[0], e); !rep.OK() {
				t.Errorf("row %d, %+v: embedding differs from the row alone: %s", i, opt, rep)
			}
		}
	}
}

// sameAsAlone compares a row's result in a padded batch with the row's result
// alone under the tolerance rule's elementwise cap, each row of rowLen values
// scaled by its largest |value|. (Not bit for bit: the kernels' reduction order
// may depend on the number of keys and of rows, padding included.)
func sameAsAlone(batch, alone []float32, rowLen int) tolerance.Report {
	ref := make([]float64, len(alone))
	for i, v := range alone {
		ref[i] = float64(v)
	}
	return tolerance.CheckRows(batch, ref, nil, rowLen)
}

// TestEmbeddingPooling checks each pooling against the hidden states it pools.
func TestEmbeddingPooling(t *testing.T) {
	out := &model.BertOutput{Batch: 2, Seq: 3, Dim: 2, Lengths: []int{3, 1},
		Hidden: []float32{1, 2, 3, 4, 5, 12, 3, 4, 0, 0, 0, 0},
		Pooler: []float32{0.5, -0.5, 0, 0}}
	for _, c := range []struct {
		opt  model.EmbeddingOptions
		want [][]float32
	}{
		{model.EmbeddingOptions{Pooling: model.PoolMean}, [][]float32{{3, 6}, {3, 4}}},
		{model.EmbeddingOptions{Pooling: model.PoolMean, Normalize: true}, [][]float32{{float32(3 / math.Sqrt(45)), float32(6 / math.Sqrt(45))}, {0.6, 0.8}}},
		{model.EmbeddingOptions{Pooling: model.PoolCLS}, [][]float32{{1, 2}, {3, 4}}},
		{model.EmbeddingOptions{Pooling: model.PoolPooler, Normalize: true}, [][]float32{{float32(1 / math.Sqrt2), float32(-1 / math.Sqrt2)}, {0, 0}}},
	} {
		got, err := c.opt.Embed(out)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if !slices.Equal(got[i], c.want[i]) {
				t.Errorf("%+v row %d: got %v, want %v", c.opt, i, got[i], c.want[i])
			}
		}
	}
	out.Pooler = nil
	if _, err := (model.EmbeddingOptions{Pooling: model.PoolPooler}).Embed(out); !errors.Is(err, backend.ErrArgument) {
		t.Errorf("pooler pooling without a pooler: %v, want ErrArgument", err)
	}
	for _, s := range []string{"mean", "cls", "pooler"} {
		if p, err := model.ParsePooling(s); err != nil || p.String() != s {
			t.Errorf("ParsePooling(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := model.ParsePooling("max"); err == nil {
		t.Error("ParsePooling(max) succeeded")
	}
}

// TestBertPrefixAndHeads loads the same weights under "bert." with a
// masked-LM head beside them (as BertForMaskedLM saves them) and checks the
// result equals the unprefixed model's.
func TestBertPrefixAndHeads(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	cfg, err := model.ParseBertConfig([]byte(tinyBertConfig))
	if err != nil {
		t.Fatal(err)
	}
	ts := append(tinyBertTensors(3, "bert."),
		safetensors.FromFloat32("cls.predictions.bias", make([]float32, 30), 30),
		safetensors.FromInt64("bert.embeddings.position_ids", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, 1, 24))
	w, err := model.NewWeights(ts...)
	if err != nil {
		t.Fatal(err)
	}
	prefixed, err := model.LoadBert(be, cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	defer prefixed.Close()
	ids := [][]int{{1, 4, 2}, {1, 2}}
	got, err := prefixed.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tinyBert(t, be, "").Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Hidden, want.Hidden) || !slices.Equal(got.Pooler, want.Pooler) {
		t.Error("the bert.-prefixed checkpoint gives other results than the same weights unprefixed")
	}
}

// TestRobertaPositions checks that a RoBERTa-style model numbers positions
// from pad_token_id+1: it equals a BERT whose position table starts there.
func TestRobertaPositions(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	bertCfg, err := model.ParseBertConfig([]byte(tinyBertConfig))
	if err != nil {
		t.Fatal(err)
	}
	robCfg := bertCfg
	robCfg.ModelType, robCfg.PadTokenID, robCfg.MaxPositionEmbeddings = "xlm-roberta", 1, 26
	var bertTs, robTs []*safetensors.Tensor
	for _, ts := range tinyBertTensors(5, "") {
		bertTs = append(bertTs, ts)
		if ts.Name == "embeddings.position_embeddings.weight" {
			pos, _ := ts.Float32s()
			ts = safetensors.FromFloat32(ts.Name, append(make([]float32, 2*16), pos...), 26, 16)
		}
		robTs = append(robTs, safetensors.FromFloat32("roberta."+ts.Name, mustFloats(t, ts), ts.Shape...))
	}
	load := func(cfg model.BertConfig, ts []*safetensors.Tensor) *model.Bert {
		w, err := model.NewWeights(ts...)
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.LoadBert(be, cfg, w)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	ids := [][]int{make([]int, 24), {0, 5, 2}}
	want, err := load(bertCfg, bertTs).Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	rob := load(robCfg, robTs)
	if rob.Config().MaxTokens() != 24 {
		t.Errorf("MaxTokens = %d, want 24 (26 positions from 2)", rob.Config().MaxTokens())
	}
	got, err := rob.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Hidden, want.Hidden) {
		t.Errorf("RoBERTa positions: max |diff| %g from the shifted BERT", maxDiff(got.Hidden, want.Hidden))
	}
	if _, err := rob.Forward([][]int{make([]int, 25)}, nil); !errors.Is(err, model.ErrInput) {
		t.Errorf("25 tokens with 24 positions: %v, want ErrInput", err)
	}
}

func mustFloats(t *testing.T, ts *safetensors.Tensor) []float32 {
	t.Helper()
	f, err := ts.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestBertConfigErrors checks that config fields changing the math are refused by name.
func TestBertConfigErrors(t *testing.T) {
	for _, c := range []struct{ field, value, want string }{
		{"position_embedding_type", `"relative_key"`, "position_embedding_type"},
		{"hidden_act", `"gelu_new"`, "hidden_act"},
		{"model_type", `"distilbert"`, "model_type"},
		{"is_decoder", `true`, "is_decoder"},
		{"add_cross_attention", `true`, "add_cross_attention"},
		{"embedding_size", `128`, "embedding_size"},
		{"num_attention_heads", `5`, "num_attention_heads"},
		{"layer_norm_eps", `0`, "layer_norm_eps"},
		{"vocab_size", `0`, "vocab_size"},
	} {
		var fields map[string]any
		if err := json.Unmarshal([]byte(tinyBertConfig), &fields); err != nil {
			t.Fatal(err)
		}
		fields[c.field] = json.RawMessage(c.value)
		js, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		_, err = model.ParseBertConfig(js)
		if !errors.Is(err, model.ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %s: %v, want ErrConfig naming %s", c.field, c.value, err, c.want)
		}
	}
	if _, err := model.ParseBertConfig([]byte(`{"hidden_size": `)); !errors.Is(err, model.ErrConfig) {
		t.Errorf("truncated JSON: %v, want ErrConfig", err)
	}
}

// TestBertWeightErrors checks that missing, unexpected and mis-shaped tensors
// are each named, with Hugging Face's names.
func TestBertWeightErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	cfg, err := model.ParseBertConfig([]byte(tinyBertConfig))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func([]*safetensors.Tensor) []*safetensors.Tensor) []*safetensors.Tensor {
		return f(tinyBertTensors(3, ""))
	}
	for _, c := range []struct {
		name string
		ts   []*safetensors.Tensor
		want []string
	}{
		{"missing key bias", edit(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x *safetensors.Tensor) bool { return x.Name == "encoder.layer.1.attention.self.key.bias" })
		}), []string{"missing encoder.layer.1.attention.self.key.bias [16]"}},
		{"extra", edit(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			return append(ts, safetensors.FromFloat32("encoder.layer.2.output.dense.bias", make([]float32, 16), 16),
				safetensors.FromFloat32("classifier.weight", make([]float32, 16), 1, 16))
		}), []string{"unexpected encoder.layer.2.output.dense.bias [16]", "unexpected classifier.weight [1 16]"}},
		{"mis-shaped", edit(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			for i, x := range ts {
				if x.Name == "encoder.layer.0.intermediate.dense.weight" {
					ts[i] = safetensors.FromFloat32(x.Name, make([]float32, 16*33), 33, 16)
				}
			}
			return ts
		}), []string{"encoder.layer.0.intermediate.dense.weight is [33 16], want [32 16]"}},
		{"half a pooler", edit(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x *safetensors.Tensor) bool { return x.Name == "pooler.dense.bias" })
		}), []string{"missing pooler.dense.bias"}},
		{"bad position_ids", edit(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
			return append(ts, safetensors.FromInt64("embeddings.position_ids", make([]int64, 24), 1, 24))
		}), []string{"embeddings.position_ids[1] = 0"}},
	} {
		w, err := model.NewWeights(c.ts...)
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.LoadBert(be, cfg, w)
		if err == nil {
			m.Close()
			t.Errorf("%s: loaded", c.name)
			continue
		}
		if !errors.Is(err, model.ErrWeights) {
			t.Errorf("%s: %v, want ErrWeights", c.name, err)
		}
		for _, want := range c.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v\ndoes not say %q", c.name, err, want)
			}
		}
	}
}

// TestBertInputErrors checks the refused token rows.
func TestBertInputErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	m := tinyBert(t, be, "")
	for _, c := range []struct {
		name       string
		ids, types [][]int
		want       string
	}{
		{"no rows", nil, nil, "no rows"},
		{"empty row", [][]int{{1, 2}, {}}, nil, "row 1 is empty"},
		{"id past vocab", [][]int{{1, 30}}, nil, "row 0, position 1: token id 30 outside the vocabulary [0, 30)"},
		{"negative id", [][]int{{-1}}, nil, "token id -1"},
		{"too long", [][]int{make([]int, 25)}, nil, "25 tokens, more than the 24 positions"},
		{"type past vocab", [][]int{{1, 2}}, [][]int{{0, 2}}, "token type 2 outside [0, 2)"},
		{"type row length", [][]int{{1, 2}}, [][]int{{0}}, "row 0 has 2 token ids and 1 token type ids"},
		{"type rows", [][]int{{1, 2}}, [][]int{{0, 0}, {0}}, "2 rows of token type ids for 1 rows"},
	} {
		_, err := m.Forward(c.ids, c.types)
		if !errors.Is(err, model.ErrInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInput saying %q", c.name, err, c.want)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.Forward([][]int{{1}}, nil); !errors.Is(err, backend.ErrReleased) {
		t.Errorf("Forward after Close: %v, want ErrReleased", err)
	}
}

// TestSentenceEncoderFolder reads the pooling of sentence-transformers folders
// and refuses folders it cannot honour, naming what is wrong.
func TestSentenceEncoderFolder(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		if err := writeTinyBert(dir, 2); err != nil {
			t.Fatal(err)
		}
		for name, text := range files {
			path := filepath.Join(dir, name)
			if text == "" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	const clsPooling = `{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}`
	const twoModules = `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]`
	for _, c := range []struct {
		name  string
		files map[string]string
		want  model.EmbeddingOptions
	}{
		{"mean, normalize", nil, model.EmbeddingOptions{Pooling: model.PoolMean, Normalize: true}},
		{"cls", map[string]string{"1_Pooling/config.json": clsPooling, "modules.json": twoModules}, model.EmbeddingOptions{Pooling: model.PoolCLS}},
		{"no modules.json", map[string]string{"modules.json": ""}, model.EmbeddingOptions{Pooling: model.PoolMean}},
	} {
		enc, err := model.LoadSentenceEncoder(be, write(t, c.files))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if enc.Options != c.want {
			t.Errorf("%s: options %+v, want %+v", c.name, enc.Options, c.want)
		}
		enc.Close()
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no config", map[string]string{"config.json": ""}, "config.json"},
		{"no weights", map[string]string{"model.safetensors": ""}, "model.safetensors"},
		{"max pooling", map[string]string{"1_Pooling/config.json": `{"pooling_mode_max_tokens": true}`}, "pooling_mode_max_tokens"},
		{"two modes", map[string]string{"1_Pooling/config.json": `{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}`}, "both"},
		{"dense", map[string]string{"modules.json": `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]`}, `"sentence_transformers.models.Dense"`},
		{"relative positions", map[string]string{"config.json": strings.Replace(tinyBertConfig, `"absolute"`, `"relative_key_query"`, 1)}, "position_embedding_type"},
		{"path outside", map[string]string{"modules.json": `[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "../1_Pooling", "type": "sentence_transformers.models.Pooling"}]`}, `path "../1_Pooling" leaves the folder`},
		{"no pooling module", map[string]string{"modules.json": `[{"path": "", "type": "sentence_transformers.models.Transformer"}]`}, "1 modules"},
		{"pooling first", map[string]string{"modules.json": `[{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"path": "", "type": "sentence_transformers.models.Transformer"}]`}, `module 0 "sentence_transformers.models.Pooling"`},
	} {
		enc, err := model.LoadSentenceEncoder(be, write(t, c.files))
		if err == nil {
			enc.Close()
			t.Errorf("%s: loaded", c.name)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\ndoes not say %q", c.name, err, c.want)
		}
	}
}

// TestSentenceEncoderConcurrent embeds batches of different shapes from 8
// goroutines at once with one model and checks each result bit for bit
// against the same batch embedded alone first, on the CPU and OpenCL.
func TestSentenceEncoderConcurrent(t *testing.T) {
	t.Run("cpu", func(t *testing.T) {
		be := cpuref.New()
		defer be.Close()
		concurrentEmbed(t, be)
	})
	t.Run("opencl", func(t *testing.T) { concurrentEmbed(t, gputest.Device(t)) })
}

func concurrentEmbed(t *testing.T, be backend.Backend) {
	enc := &model.SentenceEncoder{Model: tinyBert(t, be, ""), Options: model.EmbeddingOptions{Pooling: model.PoolMean, Normalize: true}}
	batches := make([][][]int, 8)
	for i := range batches {
		for r := range i%3 + 1 {
			row := []int{1}
			for j := range 2 + (i*5+r*3)%19 {
				row = append(row, (i*7+r*11+j*13)%30)
			}
			batches[i] = append(batches[i], row)
		}
	}
	want := make([][][]float32, len(batches))
	for i, b := range batches {
		var err error
		if want[i], err = enc.Embed(b); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(batches))
	for i, b := range batches {
		wg.Go(func() {
			for range 3 {
				got, err := enc.Embed(b)
				if err != nil {
					errs[i] = err
					return
				}
				for r := range got {
					if !slices.Equal(got[r], want[i][r]) {
						errs[i] = fmt.Errorf("batch %d, row %d differs from the serial run", i, r)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestSentenceEncoderSubfolder loads an older sentence-transformers layout,
// whose transformer files sit in the BERT module's own folder (0_BERT).
func TestSentenceEncoderSubfolder(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	dir := t.TempDir()
	if err := writeTinyBert(filepath.Join(dir, "0_BERT"), 2); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.json", "1_Pooling/config.json"} {
		if err := os.Remove(filepath.Join(dir, "0_BERT", f)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"modules.json":          `[{"path": "0_BERT", "type": "sentence_transformers.models.BERT"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]`,
		"1_Pooling/config.json": `{"pooling_mode_cls_token": true}`,
	}
	for name, text := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := model.LoadSentenceEncoder(be, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if want := (model.EmbeddingOptions{Pooling: model.PoolCLS}); enc.Options != want {
		t.Errorf("options %+v, want %+v", enc.Options, want)
	}
	direct, err := model.LoadSentenceEncoder(be, filepath.Join(dir, "0_BERT"))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	ids := [][]int{{1, 4, 9, 2}}
	got, err := enc.Embed(ids)
	if err != nil {
		t.Fatal(err)
	}
	out, err := direct.Model.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], out.Hidden[:16]) {
		t.Error("CLS pooling through the subfolder differs from the first token's hidden state")
	}
}
