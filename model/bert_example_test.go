package model_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// tinyBertConfig is the config.json of a small random BERT.
const tinyBertConfig = `{
  "architectures": ["BertModel"], "model_type": "bert",
  "vocab_size": 30, "hidden_size": 16, "num_attention_heads": 4, "num_hidden_layers": 2,
  "intermediate_size": 32, "max_position_embeddings": 24, "type_vocab_size": 2,
  "layer_norm_eps": 1e-12, "hidden_act": "gelu", "position_embedding_type": "absolute"
}`

// tinyBertTensors are random weights for tinyBertConfig, named as a Hugging
// Face BertModel saves them, each name prefixed by prefix.
func tinyBertTensors(seed uint64, prefix string) []*safetensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 19))
	const vocab, e, ff, layers, positions = 30, 16, 32, 2, 24
	var ts []*safetensors.Tensor
	add := func(name string, scale float32, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = (2*rng.Float32() - 1) * scale
		}
		if scale == 0 { // a LayerNorm weight: around 1
			for i := range data {
				data[i] = 1 + 0.1*(2*rng.Float32()-1)
			}
		}
		ts = append(ts, safetensors.FromFloat32(prefix+name, data, shape...))
	}
	lin := func(name string, out, in int) {
		add(name+".weight", float32(1/math.Sqrt(float64(in))), out, in)
		add(name+".bias", 0.1, out)
	}
	norm := func(name string) {
		add(name+".weight", 0, e)
		add(name+".bias", 0.1, e)
	}
	add("embeddings.word_embeddings.weight", 1, vocab, e)
	add("embeddings.position_embeddings.weight", 1, positions, e)
	add("embeddings.token_type_embeddings.weight", 1, 2, e)
	norm("embeddings.LayerNorm")
	for i := range layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		lin(p+"attention.self.query", e, e)
		lin(p+"attention.self.key", e, e)
		lin(p+"attention.self.value", e, e)
		lin(p+"attention.output.dense", e, e)
		norm(p + "attention.output.LayerNorm")
		lin(p+"intermediate.dense", ff, e)
		lin(p+"output.dense", e, ff)
		norm(p + "output.LayerNorm")
	}
	lin("pooler.dense", e, e)
	return ts
}

// writeTinyBert writes a sentence-transformers folder: the model's
// config.json and model.safetensors, and mean pooling with normalisation.
func writeTinyBert(dir string, seed uint64) error {
	files := map[string]string{
		"config.json":           tinyBertConfig,
		"modules.json":          `[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`,
		"1_Pooling/config.json": `{"word_embedding_dimension": 16, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}`,
		"2_Normalize/.gitkeep":  "",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), tinyBertTensors(seed, ""), nil)
}

// Sentence embeddings from a sentence-transformers folder, in-process: two
// sentences' token ids (as a WordPiece tokenizer gives them, [CLS] ... [SEP])
// in one batch of unequal lengths; the shorter row is padded and masked inside.
func ExampleSentenceEncoder_Embed() {
	dir, err := os.MkdirTemp("", "tinybert")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := writeTinyBert(dir, 1); err != nil {
		fmt.Println(err)
		return
	}
	be := cpuref.New() // or an OpenCL device: clattn.Open("auto")
	defer be.Close()
	enc, err := model.LoadSentenceEncoder(be, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer enc.Close()
	embs, err := enc.Embed([][]int{{1, 7, 12, 2}, {1, 9, 18, 21, 5, 2}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pooling:", enc.Options.Pooling, "normalize:", enc.Options.Normalize)
	var dot, norm float64
	for i := range embs[0] {
		dot += float64(embs[0][i]) * float64(embs[1][i])
		norm += float64(embs[0][i]) * float64(embs[0][i])
	}
	// Normalised embeddings: the dot product is the cosine similarity.
	fmt.Printf("%d embeddings of %d values, norm %.2f, cosine similarity %.2f\n", len(embs), len(embs[0]), math.Sqrt(norm), dot)
	// Output:
	// pooling: mean normalize: true
	// 2 embeddings of 16 values, norm 1.00, cosine similarity 0.89
}
