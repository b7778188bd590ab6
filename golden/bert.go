package golden

import (
	"encoding/json"
	"fmt"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// bertOutputs are the outputs a bert case reports.
var bertOutputs = []string{"out", "pooler", "embedding"}

// bert runs a Hugging Face BertModel on right-padded token ids and checks the
// last hidden state (out; padding positions are 0), the pooler and the mean-pooled
// sentence embedding (L2-normalised with the normalize option).
func (r *runner) bert() error {
	ids, err := r.tokenRows("input_ids")
	if err != nil {
		return err
	}
	mask, err := r.tokenRows("attention_mask")
	if err != nil {
		return err
	}
	var types [][]int
	if r.File.Tensor("token_type_ids") != nil {
		if types, err = r.tokenRows("token_type_ids"); err != nil {
			return err
		}
	}
	if err := r.rightPadded(ids, types, mask); err != nil {
		return err
	}
	normalize, err := r.Bool("normalize", false)
	if err != nil {
		return err
	}
	w, err := r.weights()
	if err != nil {
		return err
	}
	cfg, err := r.bertConfig()
	if err != nil {
		return err
	}
	m, err := model.LoadBert(r.be, cfg, w)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, m)
	out, err := m.Forward(ids, types)
	if err != nil {
		return err
	}
	emb, err := model.EmbeddingOptions{Pooling: model.PoolMean, Normalize: normalize}.Embed(out)
	if err != nil {
		return err
	}
	if err := r.compareHost("out", out.Hidden, out.Batch, out.Seq, out.Dim); err != nil {
		return err
	}
	if out.Pooler == nil {
		return fmt.Errorf("the case has no pooler.dense.* weights, so no pooler output")
	}
	if err := r.compareHost("pooler", out.Pooler, out.Batch, out.Dim); err != nil {
		return err
	}
	var flat []float32
	for _, e := range emb {
		flat = append(flat, e...)
	}
	return r.compareHost("embedding", flat, out.Batch, out.Dim)
}

// compareHost checks host data of the given shape against name+"_f64".
func (r *runner) compareHost(name string, data []float32, shape ...int) error {
	t, err := r.be.Upload(data, shape...)
	if err != nil {
		return err
	}
	return r.compare(name, name, r.own(t), 0)
}

// tokenRows reads an integer [B, S] tensor as rows.
func (r *runner) tokenRows(name string) ([][]int, error) {
	t, err := r.tensor(name, 2)
	if err != nil {
		return nil, err
	}
	switch t.DType {
	case safetensors.I64, safetensors.U8:
	default:
		return nil, fmt.Errorf("%s has dtype %s, want I64 or U8", name, t.DType)
	}
	vals, err := t.Float64s()
	if err != nil {
		return nil, err
	}
	rows := make([][]int, t.Shape[0])
	for i := range rows {
		rows[i] = make([]int, t.Shape[1])
		for j := range rows[i] {
			rows[i][j] = int(vals[i*t.Shape[1]+j])
		}
	}
	return rows, nil
}

// rightPadded cuts ids and types (may be nil) to the tokens whose attention
// mask is 1, which must precede every 0 of the row (right padding), and checks
// the right_pad option against the mask.
func (r *runner) rightPadded(ids, types, mask [][]int) error {
	var pads []int
	if s, ok := r.File.Metadata["right_pad"]; ok {
		if err := json.Unmarshal([]byte(s), &pads); err != nil || len(pads) != len(ids) {
			return fmt.Errorf("metadata right_pad = %q, want a list of %d integers", s, len(ids))
		}
	}
	for i, row := range mask {
		if len(row) != len(ids[i]) || (types != nil && len(types[i]) != len(ids[i])) {
			return fmt.Errorf("input_ids, token_type_ids and attention_mask differ in shape")
		}
		n := 0
		for n < len(row) && row[n] == 1 {
			n++
		}
		for j := n; j < len(row); j++ {
			if row[j] != 0 {
				return fmt.Errorf("attention_mask row %d is not right padding (1s then 0s): %v", i, row)
			}
		}
		if pads != nil && pads[i] != len(row)-n {
			return fmt.Errorf("metadata right_pad[%d] = %d, the attention mask pads %d", i, pads[i], len(row)-n)
		}
		ids[i] = ids[i][:n]
		if types != nil {
			types[i] = types[i][:n]
		}
	}
	return nil
}

// bertConfig reads the model's sizes from the weights (the metadata, where it
// gives them, must agree) and the heads, layers and eps from the metadata.
func (r *runner) bertConfig() (model.BertConfig, error) {
	cfg := model.DefaultBertConfig()
	var err error
	if cfg.NumAttentionHeads, err = r.heads(); err != nil {
		return cfg, err
	}
	if cfg.NumHiddenLayers, err = r.Int("layers", 1); err != nil {
		return cfg, err
	}
	if cfg.LayerNormEps, err = r.Float("ln_eps", 1e-12); err != nil {
		return cfg, err
	}
	for _, s := range []struct {
		key, tensor string
		dim         int
		dst         *int
	}{
		{"vocab", "embeddings.word_embeddings.weight", 0, &cfg.VocabSize},
		{"hidden", "embeddings.word_embeddings.weight", 1, &cfg.HiddenSize},
		{"max_position", "embeddings.position_embeddings.weight", 0, &cfg.MaxPositionEmbeddings},
		{"type_vocab", "embeddings.token_type_embeddings.weight", 0, &cfg.TypeVocabSize},
		{"intermediate", "encoder.layer.0.intermediate.dense.weight", 0, &cfg.IntermediateSize},
	} {
		t := r.File.Tensor(s.tensor)
		if t == nil || len(t.Shape) != 2 {
			return cfg, fmt.Errorf("cannot tell %s: no 2-D %s", s.key, s.tensor)
		}
		*s.dst = t.Shape[s.dim]
		if n, err := r.Int(s.key, *s.dst); err != nil || n != *s.dst {
			return cfg, fmt.Errorf("metadata %s = %q does not match %s %v (%v)", s.key, r.File.Metadata[s.key], s.tensor, backend.Shape(t.Shape), err)
		}
	}
	return cfg, cfg.Validate()
}
