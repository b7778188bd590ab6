package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/internal/tolerance"
	"github.com/clattn/clattn/safetensors"
)

// bertFolder writes the weights of a bert golden case as a Hugging Face folder
// (config.json from the case's metadata, model.safetensors) and returns it with
// the case and its token id and token type rows as --input-ids and
// --token-type-ids text.
func bertFolder(t *testing.T, name string) (dir string, f *safetensors.File, ids, types string) {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join(goldenDir, name+".safetensors"))
	require.NoError(t, err)
	var ws []*safetensors.Tensor
	for _, tn := range f.Tensors {
		if strings.HasPrefix(tn.Name, "embeddings.") || strings.HasPrefix(tn.Name, "encoder.") || strings.HasPrefix(tn.Name, "pooler.dense.") {
			ws = append(ws, tn)
		}
	}
	dir = t.TempDir()
	require.NoError(t, safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ws, nil))
	word := f.Tensor("embeddings.word_embeddings.weight").Shape
	eps := f.Metadata["ln_eps"]
	if eps == "" {
		eps = "1e-12"
	}
	cfg := fmt.Sprintf(`{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": %d, "hidden_size": %d,
		"num_attention_heads": %s, "num_hidden_layers": %s, "intermediate_size": %s, "max_position_embeddings": %d,
		"type_vocab_size": %d, "layer_norm_eps": %s, "hidden_act": "gelu", "position_embedding_type": "absolute",
		"hidden_dropout_prob": 0.1, "torch_dtype": "float32"}`,
		word[0], word[1], f.Metadata["heads"], f.Metadata["layers"], f.Metadata["intermediate"],
		f.Tensor("embeddings.position_embeddings.weight").Shape[0], f.Tensor("embeddings.token_type_embeddings.weight").Shape[0], eps)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644))

	idv, err := f.Tensor("input_ids").Float64s()
	require.NoError(t, err)
	tv, err := f.Tensor("token_type_ids").Float64s()
	require.NoError(t, err)
	mask, err := f.Tensor("attention_mask").Float64s()
	require.NoError(t, err)
	s := f.Tensor("input_ids").Shape[1]
	var idRows, typeRows []string
	for b := range f.Tensor("input_ids").Shape[0] {
		var idRow, typeRow []string
		for j := range s {
			if mask[b*s+j] == 1 {
				idRow = append(idRow, fmt.Sprint(idv[b*s+j]))
				typeRow = append(typeRow, fmt.Sprint(tv[b*s+j]))
			}
		}
		idRows, typeRows = append(idRows, strings.Join(idRow, ",")), append(typeRows, strings.Join(typeRow, ","))
	}
	return dir, f, strings.Join(idRows, ";"), strings.Join(typeRows, ";")
}

// TestEmbedGolden embeds the golden bert cases' rows through gpubench embed
// and checks --json against PyTorch's float64 sentence embeddings.
func TestEmbedGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"bert_tiny", nil},
		{"bert_normalized_embedding", []string{"--normalize"}},
		{"bert_odd_shapes", []string{"--normalize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, f, ids, types := bertFolder(t, tc.name)
			out := filepath.Join(t.TempDir(), "emb.json")
			args := append([]string{"embed", "--device", "cpu", "--model", dir, "--input-ids", ids, "--token-type-ids", types,
				"--json", out, "--reps", "1"}, tc.flags...)
			var stdout, stderr bytes.Buffer
			require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())
			// A second run replaces the embeddings JSON the first wrote.
			stdout.Reset()
			require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())
			require.Contains(t, stdout.String(), "row 0 (")
			require.Contains(t, stdout.String(), "sequences/s")
			require.Contains(t, stdout.String(), "tokens/s")

			b, err := os.ReadFile(out)
			require.NoError(t, err)
			var res embedJSON
			require.NoError(t, json.Unmarshal(b, &res))
			require.Equal(t, "cpu", res.Device)
			want, err := f.Tensor("embedding_f64").Float64s()
			require.NoError(t, err)
			torch32, err := f.Tensor("embedding").Float32s()
			require.NoError(t, err)
			var got []float32
			for _, e := range res.Embeddings {
				got = append(got, e...)
			}
			rep := tolerance.CheckRows(got, want, torch32, f.Tensor("embedding").Shape[1])
			require.True(t, rep.OK(), "%s: %v", tc.name, rep)
		})
	}
}

// TestEmbedErrors: bad command lines exit 2 with usage; bad folders, tensors
// and token ids exit 1 with one line naming the problem; nothing is written.
func TestEmbedErrors(t *testing.T) {
	dir, _, _, _ := bertFolder(t, "bert_normalized_embedding")
	outDir := t.TempDir()
	out := filepath.Join(outDir, "emb.json")
	folder := func(edit func(dir string)) string {
		d := t.TempDir()
		for _, name := range []string{"config.json", "model.safetensors"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(d, name), b, 0o644))
		}
		edit(d)
		return d
	}
	noConfig := folder(func(d string) { require.NoError(t, os.Remove(filepath.Join(d, "config.json"))) })
	noWeights := folder(func(d string) { require.NoError(t, os.Remove(filepath.Join(d, "model.safetensors"))) })
	retensor := func(edit func([]*safetensors.Tensor) []*safetensors.Tensor) string {
		return folder(func(d string) {
			path := filepath.Join(d, "model.safetensors")
			f, err := safetensors.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, safetensors.WriteFile(path, edit(f.Tensors), nil))
		})
	}
	missing := retensor(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
		var kept []*safetensors.Tensor
		for _, x := range ts {
			if x.Name != "encoder.layer.0.output.dense.weight" {
				kept = append(kept, x)
			}
		}
		return kept
	})
	extra := retensor(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
		return append(ts, safetensors.FromFloat32("encoder.layer.7.output.dense.bias", make([]float32, 48), 48))
	})
	misShaped := retensor(func(ts []*safetensors.Tensor) []*safetensors.Tensor {
		for i, x := range ts {
			if x.Name == "pooler.dense.bias" {
				ts[i] = safetensors.FromFloat32(x.Name, make([]float32, 47), 47)
			}
		}
		return ts
	})
	relative := folder(func(d string) {
		path := filepath.Join(d, "config.json")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, bytes.Replace(b, []byte(`"absolute"`), []byte(`"relative_key"`), 1), 0o644))
	})
	notOurs := filepath.Join(outDir, "notes.json")
	require.NoError(t, os.WriteFile(notOurs, []byte(`{"keep": "me"}`), 0o644))

	base := []string{"embed", "--device", "cpu", "--json", out}
	ok := "1,2,3;4,5"
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"no model", append(base, "--input-ids", ok), 2, "--model is required"},
		{"no ids", append(base, "--model", dir), 2, "--input-ids is required"},
		{"bad id", append(base, "--model", dir, "--input-ids", "1,x,3"), 2, `"x" is not an integer`},
		{"bad pooling", append(base, "--model", dir, "--input-ids", ok, "--pooling", "max"), 2, `unknown pooling "max"`},
		{"bad token type", append(base, "--model", dir, "--input-ids", ok, "--token-type-ids", "0,0,a"), 2, `"a" is not an integer`},
		{"token types of other lengths", append(base, "--model", dir, "--input-ids", ok, "--token-type-ids", "0,0,0;0"), 1, "row 1 has 2 token ids and 1 token type ids"},
		{"bad reps", append(base, "--model", dir, "--input-ids", ok, "--reps", "0"), 2, "--reps 0"},
		{"extra argument", append(base, "--model", dir, "--input-ids", ok, "x"), 2, `unexpected argument "x"`},
		{"no config", append(base, "--model", noConfig, "--input-ids", ok), 1, "config.json"},
		{"no weights", append(base, "--model", noWeights, "--input-ids", ok), 1, "model.safetensors"},
		{"missing tensor", append(base, "--model", missing, "--input-ids", ok), 1, "missing encoder.layer.0.output.dense.weight [48 96]"},
		{"extra tensor", append(base, "--model", extra, "--input-ids", ok), 1, "unexpected encoder.layer.7.output.dense.bias [48]"},
		{"mis-shaped tensor", append(base, "--model", misShaped, "--input-ids", ok), 1, "pooler.dense.bias is [47], want [48]"},
		{"relative positions", append(base, "--model", relative, "--input-ids", ok), 1, "position_embedding_type"},
		{"id outside vocab", append(base, "--model", dir, "--input-ids", "1,2;3,53"), 1, "row 1, position 1: token id 53 outside the vocabulary [0, 53)"},
		{"negative id", append(base, "--model", dir, "--input-ids", "-1"), 1, "token id -1"},
		{"row too long", append(base, "--model", dir, "--input-ids", strings.Repeat("1,", 64)+"1"), 1, "row 0 has 65 tokens, more than the 64 positions"},
		{"empty row", append(base, "--model", dir, "--input-ids", "1,2;;3"), 1, "row 1 is empty"},
		{"other file kind", []string{"embed", "--device", "cpu", "--model", dir, "--input-ids", ok, "--json", notOurs}, 1, "not an embeddings JSON"},
		{"over the model's config", []string{"embed", "--device", "cpu", "--model", dir, "--input-ids", ok, "--json", filepath.Join(dir, "config.json")}, 1, "is the input"},
		{"a folder", []string{"embed", "--device", "cpu", "--model", dir, "--input-ids", ok, "--json", outDir}, 1, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(tc.args, &stdout, &stderr)
			require.Equal(t, tc.status, status, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			requireNoTrace(t, stderr.String())
			if tc.status == 1 {
				require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "want one line, got %q", stderr.String())
			}
			_, err := os.Stat(out)
			require.True(t, os.IsNotExist(err), "a failed run wrote %s", out)
			entries, err := os.ReadDir(outDir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "a failed run left files in %s", outDir)
			b, err := os.ReadFile(notOurs)
			require.NoError(t, err)
			require.Equal(t, `{"keep": "me"}`, string(b))
		})
	}
}
