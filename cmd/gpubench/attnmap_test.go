package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/safetensors"
)

const attnMapGoldenDir = "../../testdata/golden"

// attnMapDoc is attention.json with masked positions as nil.
type attnMapDoc struct {
	Source     string `json:"source"`
	Kind       string `json:"kind"`
	LayerIndex int    `json:"layer_index"`
	BatchIndex int    `json:"batch_index"`
	Maps       []struct {
		Name                 string         `json:"name"`
		Heads, Queries, Keys int            `json:"-"`
		MeanEntropy          []float64      `json:"mean_entropy"`
		MeanMaxWeight        []float64      `json:"mean_max_weight"`
		Weights              [][][]*float64 `json:"weights"`
	} `json:"maps"`
}

// runAttnMap runs attn-map with args and --out dir on the cpu backend and reads attention.json.
func runAttnMap(t *testing.T, dir string, args ...string) attnMapDoc {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(append([]string{"attn-map", "--device", "cpu", "--out", dir}, args...), &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	data, err := os.ReadFile(filepath.Join(dir, "attention.json"))
	require.NoError(t, err)
	var doc attnMapDoc
	require.NoError(t, json.Unmarshal(data, &doc))
	return doc
}

func requirePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	if w > 0 {
		require.Equal(t, w, img.Bounds().Dx(), path)
		require.Equal(t, h, img.Bounds().Dy(), path)
	}
}

func TestAttnMapGoldenCausal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(attnMapGoldenDir, "mha_causal_nobias.safetensors")
	doc := runAttnMap(t, dir, path)
	require.Equal(t, "mha_causal_nobias", doc.Source)
	require.Len(t, doc.Maps, 1)
	m := doc.Maps[0]
	require.Len(t, m.Weights, 2)
	require.Len(t, m.MeanEntropy, 2)

	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	ref, err := f.Tensor("attn_weights_f64").Float64s()
	require.NoError(t, err)
	for h, rows := range m.Weights {
		require.Len(t, rows, 25)
		for i, row := range rows {
			require.Len(t, row, 25)
			for j, w := range row {
				if j > i {
					require.Nil(t, w, "head %d (%d, %d) is causally masked", h, i, j)
					continue
				}
				require.NotNil(t, w, "head %d (%d, %d)", h, i, j)
				require.InDelta(t, ref[(h*25+i)*25+j], *w, 1e-5)
			}
		}
		require.Greater(t, m.MeanEntropy[h], 0.0)
		require.Less(t, m.MeanEntropy[h], math.Log(25))
		requirePNG(t, filepath.Join(dir, "attn_head"+string(rune('0'+h))+".png"), 720, 620)
	}
	requirePNG(t, filepath.Join(dir, "attn_heads.png"), 0, 0)
}

func TestAttnMapKeyPaddingAndWeightsFiles(t *testing.T) {
	path := filepath.Join(attnMapGoldenDir, "encoder_postln_relu.safetensors")
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	pad, err := f.Tensor("key_padding_mask").Float32s()
	require.NoError(t, err)
	const batch, seq = 1, 24
	doc := runAttnMap(t, t.TempDir(), path, "--batch-index", "1")
	require.Equal(t, batch, doc.BatchIndex)
	m := doc.Maps[0]
	require.Equal(t, "self", m.Name)
	require.Len(t, m.Weights, 4)
	for _, rows := range m.Weights {
		for _, row := range rows {
			sum := 0.0
			for j, w := range row {
				require.Equal(t, pad[batch*seq+j] != 0, w == nil, "key %d", j)
				if w != nil {
					sum += *w
				}
			}
			require.InDelta(t, 1, sum, 1e-5)
		}
	}

	// The same layer from separate weights and inputs files gives the same maps.
	tmp := t.TempDir()
	var weights, inputs []*safetensors.Tensor
	for _, tn := range f.Tensors {
		switch tn.Name {
		case "x", "key_padding_mask":
			inputs = append(inputs, tn)
		case "out", "out_f64":
		default:
			weights = append(weights, tn)
		}
	}
	wPath, inPath := filepath.Join(tmp, "w.safetensors"), filepath.Join(tmp, "in.safetensors")
	require.NoError(t, safetensors.WriteFile(wPath, weights, nil))
	require.NoError(t, safetensors.WriteFile(inPath, inputs, nil))
	doc2 := runAttnMap(t, filepath.Join(tmp, "out"), "--weights", wPath, "--input", inPath,
		"--layer", "encoder", "--heads", "4", "--batch-index", "1")
	require.Equal(t, m.Weights, doc2.Maps[0].Weights)
}

func TestAttnMapDecoderAndStack(t *testing.T) {
	dir := t.TempDir()
	doc := runAttnMap(t, dir, filepath.Join(attnMapGoldenDir, "decoder_postln.safetensors"))
	require.Len(t, doc.Maps, 2)
	require.Equal(t, "self", doc.Maps[0].Name)
	require.Equal(t, "cross", doc.Maps[1].Name)
	require.Len(t, doc.Maps[0].Weights[0][0], 13) // target positions
	require.Len(t, doc.Maps[1].Weights[0][0], 21) // memory positions
	for _, name := range []string{"self_head3.png", "cross_head0.png", "self_heads.png", "cross_heads.png"} {
		requirePNG(t, filepath.Join(dir, name), 0, 0)
	}

	stack := filepath.Join(attnMapGoldenDir, "encoder_stack3_finalnorm.safetensors")
	doc = runAttnMap(t, t.TempDir(), stack, "--layer-index", "2")
	require.Equal(t, 2, doc.LayerIndex)
	require.Nil(t, doc.Maps[0].Weights[0][0][1]) // causal
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"attn-map", "--device", "cpu", "--out", t.TempDir(), stack, "--layer-index", "3"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "3 layers")
}

func TestAttnMapUsage(t *testing.T) {
	golden := filepath.Join(attnMapGoldenDir, "mha_causal_nobias.safetensors")
	for _, args := range [][]string{
		{golden},                                 // no --out
		{"--out", "x"},                           // no input
		{"--out", "x", golden, golden},           // two cases
		{"--out", "x", golden, "--weights", "w"}, // both
		{"--out", "x", "--weights", "w", "--input", "i", "--heads", "2"},       // no --layer
		{"--out", "x", "--weights", "w", "--input", "i", "--layer", "encoder"}, // no --heads
		{"--out", "x", "--weights", "w", "--input", "i", "--layer", "lstm", "--heads", "2"},
		{"--out", "x", golden, "--activation", "tanh"},
		{"--out", "x", golden, "--layer", "encoder"}, // the case is an mha
		{"--out", "x", golden, "--batch-index", "-1"},
		{"--out", "x", golden, "--bool-mask", "yes"},
		{"--bogus"},
	} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 2, run(append([]string{"attn-map"}, args...), &stdout, &stderr), "%q", args)
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"attn-map", "--device", "cpu", "--out", t.TempDir(),
		filepath.Join(attnMapGoldenDir, "posenc_50x64.safetensors")}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "no attention")
}

// TestAttnMapNaNInput puts NaN into query 3 of a case: attn-map succeeds,
// writes that query's weights as null (JSON has no NaN; masked keys of a NaN
// row are NaN too, as in PyTorch), and the other queries as before.
func TestAttnMapNaNInput(t *testing.T) {
	f, err := safetensors.ReadFile(filepath.Join(attnMapGoldenDir, "mha_causal_nobias.safetensors"))
	require.NoError(t, err)
	q := f.Tensor("q")
	vals, err := q.Float32s()
	require.NoError(t, err)
	const row, dModel = 3, 32
	vals[row*dModel+5] = float32(math.NaN())
	ts := []*safetensors.Tensor{safetensors.FromFloat32("q", vals, q.Shape...)}
	for _, tn := range f.Tensors {
		if tn.Name != "q" {
			ts = append(ts, tn)
		}
	}
	path := filepath.Join(t.TempDir(), "nan.safetensors")
	require.NoError(t, safetensors.WriteFile(path, ts, f.Metadata))

	dir := t.TempDir()
	doc := runAttnMap(t, dir, path)
	m := doc.Maps[0]
	require.Len(t, m.Weights, 2)
	for h, rows := range m.Weights {
		for i, r := range rows {
			for j, w := range r {
				require.Equal(t, i == row || j > i, w == nil, "head %d (%d, %d)", h, i, j)
			}
		}
		requirePNG(t, filepath.Join(dir, "attn_head"+string(rune('0'+h))+".png"), 720, 620)
	}
	require.Len(t, m.MeanEntropy, 2)
}

func TestAttnMapNumbersNull(t *testing.T) {
	b, err := json.Marshal(numbers{0.5, math.NaN(), math.Inf(1), math.Inf(-1)})
	require.NoError(t, err)
	require.Equal(t, "[0.5,null,null,null]", string(b))
	b, err = json.Marshal(weightRow{w: []float64{0.25, math.NaN(), 0.75}, masked: []bool{false, false, true}})
	require.NoError(t, err)
	require.Equal(t, "[0.25,null,null]", string(b))
}

// TestAttnMapParityCases draws the nn.MultiheadAttention options (seq-first,
// kdim/vdim, bias_k and the zero key, additive key padding) and checks every
// weight against PyTorch's; the appended keys are never drawn as masked.
func TestAttnMapParityCases(t *testing.T) {
	for _, name := range []string{"mha_seq_first_padding", "mha_kdim_vdim", "mha_bias_kv_zero_attn", "mha_float_key_padding",
		"mha_seq_first_bias_kv_nobias_float_mask", "mha_causal_bias_kv_zero_attn"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(attnMapGoldenDir, name+".safetensors")
			f, err := safetensors.ReadFile(path)
			require.NoError(t, err)
			refT := f.Tensor("attn_weights_f64")
			ref, err := refT.Float64s()
			require.NoError(t, err)
			heads, sq, sk := refT.Shape[1], refT.Shape[2], refT.Shape[3]
			const b = 1
			doc := runAttnMap(t, t.TempDir(), path, "--batch-index", "1")
			require.Len(t, doc.Maps, 1)
			require.Len(t, doc.Maps[0].Weights, heads)
			for h, rows := range doc.Maps[0].Weights {
				require.Len(t, rows, sq)
				for i, row := range rows {
					require.Len(t, row, sk)
					for j, w := range row {
						want := ref[((b*heads+h)*sq+i)*sk+j]
						if w == nil {
							require.Zero(t, want, "head %d (%d, %d) drawn as masked", h, i, j)
							continue
						}
						require.InDelta(t, want, *w, 1e-5, "head %d (%d, %d)", h, i, j)
					}
				}
			}
		})
	}
}

// TestAttnMapDecoderStackAndTransformer draws a layer of a decoder stack and of an nn.Transformer.
func TestAttnMapDecoderStackAndTransformer(t *testing.T) {
	doc := runAttnMap(t, t.TempDir(), filepath.Join(attnMapGoldenDir, "decoder_stack2_finalnorm.safetensors"), "--layer-index", "1")
	require.Len(t, doc.Maps, 2)
	require.Equal(t, []string{"self", "cross"}, []string{doc.Maps[0].Name, doc.Maps[1].Name})
	require.Nil(t, doc.Maps[0].Weights[0][0][1]) // tgt_mask is causal

	path := filepath.Join(attnMapGoldenDir, "transformer_small.safetensors")
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	pad, err := f.Tensor("src_key_padding_mask").Float32s()
	require.NoError(t, err)
	dir := t.TempDir()
	doc = runAttnMap(t, dir, path, "--layer-index", "1", "--batch-index", "1")
	require.Len(t, doc.Maps, 3)
	require.Equal(t, []string{"encoder_self", "decoder_self", "decoder_cross"}, []string{doc.Maps[0].Name, doc.Maps[1].Name, doc.Maps[2].Name})
	const ss = 19
	for _, m := range []int{0, 2} { // the source padding masks the encoder's keys and the memory
		for _, row := range doc.Maps[m].Weights[0] {
			require.Len(t, row, ss)
			for j, w := range row {
				require.Equal(t, pad[ss+j] != 0, w == nil, "map %s key %d", doc.Maps[m].Name, j)
			}
		}
	}
	requirePNG(t, filepath.Join(dir, "decoder_cross_heads.png"), 0, 0)
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"attn-map", "--device", "cpu", "--out", t.TempDir(), path, "--layer-index", "2"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "2 encoder and 2 decoder layers")
}

// TestAttnMapFloatKeyPadding draws an nn.Transformer given an additive source
// key padding mask (0, finite offsets and -inf): exactly the -inf keys of the
// encoder's self-attention and of the memory are drawn as masked.
func TestAttnMapFloatKeyPadding(t *testing.T) {
	path := filepath.Join(attnMapGoldenDir, "transformer_float_key_padding.safetensors")
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	kp := f.Tensor("src_key_padding_mask")
	pad, err := kp.Float32s()
	require.NoError(t, err)
	ss := kp.Shape[1]
	doc := runAttnMap(t, t.TempDir(), path, "--batch-index", "1")
	require.Len(t, doc.Maps, 3)
	finite := 0
	for _, m := range []int{0, 2} { // the source padding masks the encoder's keys and the memory
		for _, row := range doc.Maps[m].Weights[0] {
			require.Len(t, row, ss)
			for j, w := range row {
				v := pad[ss+j]
				require.Equal(t, math.IsInf(float64(v), -1), w == nil, "map %s key %d (mask %g)", doc.Maps[m].Name, j, v)
				if v != 0 && w != nil {
					finite++
				}
			}
		}
	}
	require.NotZero(t, finite, "the case has no finite nonzero offset on batch 1")
}

// TestAttnMapSeqFirstFlag: a seq-first layer from weights and inputs files with
// --seq-first draws what its case file (batch_first False) draws.
func TestAttnMapSeqFirstFlag(t *testing.T) {
	path := filepath.Join(attnMapGoldenDir, "mha_seq_first_padding.safetensors")
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	tmp := t.TempDir()
	var weights, inputs []*safetensors.Tensor
	for _, tn := range f.Tensors {
		switch tn.Name {
		case "q", "kv", "key_padding_mask":
			inputs = append(inputs, tn)
		case "out", "out_f64", "attn_weights", "attn_weights_f64":
		default:
			weights = append(weights, tn)
		}
	}
	wPath, inPath := filepath.Join(tmp, "w.safetensors"), filepath.Join(tmp, "in.safetensors")
	require.NoError(t, safetensors.WriteFile(wPath, weights, nil))
	require.NoError(t, safetensors.WriteFile(inPath, inputs, nil))
	want := runAttnMap(t, t.TempDir(), path, "--batch-index", "2")
	got := runAttnMap(t, filepath.Join(tmp, "out"), "--weights", wPath, "--input", inPath, "--layer", "mha", "--heads", "4",
		"--seq-first", "--batch-index", "2")
	require.Equal(t, want.Maps[0].Weights, got.Maps[0].Weights)
	var stdout, stderr bytes.Buffer // batch-first reading of [S,B,E] inputs: 14 is not the batch of the key padding mask
	require.Equal(t, 1, run([]string{"attn-map", "--device", "cpu", "--out", filepath.Join(tmp, "bf"), "--weights", wPath,
		"--input", inPath, "--layer", "mha", "--heads", "4"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "key_padding_mask is [3 14], want [14 3]")
}

// TestAttnMapBoolMaskAttend: a key padding mask stored as BOOL with true =
// attend, read with --bool-mask attend, draws what the original mask draws.
func TestAttnMapBoolMaskAttend(t *testing.T) {
	path := filepath.Join(attnMapGoldenDir, "encoder_postln_relu.safetensors")
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	tmp := t.TempDir()
	var weights, inputs []*safetensors.Tensor
	for _, tn := range f.Tensors {
		switch tn.Name {
		case "x":
			inputs = append(inputs, tn)
		case "key_padding_mask":
			attend := make([]bool, len(tn.Data))
			for i, v := range tn.Data {
				attend[i] = v == 0
			}
			inputs = append(inputs, safetensors.FromBool(tn.Name, attend, tn.Shape...))
		case "out", "out_f64":
		default:
			weights = append(weights, tn)
		}
	}
	wPath, inPath := filepath.Join(tmp, "w.safetensors"), filepath.Join(tmp, "in.safetensors")
	require.NoError(t, safetensors.WriteFile(wPath, weights, nil))
	require.NoError(t, safetensors.WriteFile(inPath, inputs, nil))
	want := runAttnMap(t, t.TempDir(), path, "--batch-index", "1")
	got := runAttnMap(t, filepath.Join(tmp, "out"), "--weights", wPath, "--input", inPath, "--layer", "encoder", "--heads", "4",
		"--bool-mask", "attend", "--batch-index", "1")
	require.Equal(t, want.Maps[0].Weights, got.Maps[0].Weights)
}

// TestAttnMapNoBiasLayers draws layers built with bias=False (no bias tensors
// at all), which attn-map used to load as biased layers and refuse.
func TestAttnMapNoBiasLayers(t *testing.T) {
	for name, maps := range map[string]int{"encoder_nobias_eps": 1, "decoder_stack2_seq_first_nobias": 2} {
		doc := runAttnMap(t, t.TempDir(), filepath.Join(attnMapGoldenDir, name+".safetensors"))
		require.Len(t, doc.Maps, maps, name)
		for _, m := range doc.Maps {
			for _, rows := range m.Weights {
				for _, row := range rows {
					sum := 0.0
					for _, w := range row {
						if w != nil {
							sum += *w
						}
					}
					require.InDelta(t, 1, sum, 1e-5, "%s %s: a row's weights sum to %g", name, m.Name, sum)
				}
			}
		}
	}
}
