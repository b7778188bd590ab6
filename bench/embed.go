package bench

import (
	"fmt"

	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// MiniLM is the shape of all-MiniLM-L6-v2 (hidden 384, 12 heads, 6 layers,
// intermediate 1536) at a batch of 32 rows of 128 tokens: the default of
// `gpubench bench --op embed`.
var MiniLM = Shape{Batch: 32, Seq: 128, DModel: 384, Heads: 12, HeadDim: 32, DFF: 1536, Layers: 6}

// embedVocab is the vocabulary of the benchmarked model (BERT's WordPiece).
const embedVocab = 30522

// prepareEmbed builds a BERT-family model with random weights under Hugging
// Face's names and Batch rows of Seq random token ids; each run embeds them
// (model.Bert.Forward, then mean pooling and L2 normalisation on the host).
func prepareEmbed(in *inputs, c Case) error {
	s := c.Shape
	e, ff := s.DModel, s.DFF
	cfg := model.DefaultBertConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.NumAttentionHeads, cfg.NumHiddenLayers = embedVocab, e, s.Heads, s.Layers
	cfg.IntermediateSize, cfg.MaxPositionEmbeddings = ff, max(512, s.Seq)
	var ts []*safetensors.Tensor
	add := func(name string, mean, scale float32, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = mean + float32(in.rng.NormFloat64())*scale
		}
		ts = append(ts, safetensors.FromFloat32(name, data, shape...))
	}
	lin := func(name string, out, inDim int) {
		add(name+".weight", 0, 0.05, out, inDim)
		add(name+".bias", 0, 0.05, out)
	}
	norm := func(name string) {
		add(name+".weight", 1, 0.05, e)
		add(name+".bias", 0, 0.05, e)
	}
	add("embeddings.word_embeddings.weight", 0, 0.05, embedVocab, e)
	add("embeddings.position_embeddings.weight", 0, 0.05, cfg.MaxPositionEmbeddings, e)
	add("embeddings.token_type_embeddings.weight", 0, 0.05, cfg.TypeVocabSize, e)
	norm("embeddings.LayerNorm")
	for i := range s.Layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			lin(p+n, e, e)
		}
		norm(p + "attention.output.LayerNorm")
		lin(p+"intermediate.dense", ff, e)
		lin(p+"output.dense", e, ff)
		norm(p + "output.LayerNorm")
	}
	w, err := model.NewWeights(ts...)
	if err != nil {
		return err
	}
	m, err := model.LoadBert(in.b, cfg, w)
	if err != nil {
		return err
	}
	in.w.closers = append(in.w.closers, m.Close)
	ids := make([][]int, s.Batch)
	for i := range ids {
		ids[i] = make([]int, s.Seq)
		for j := range ids[i] {
			ids[i][j] = in.rng.IntN(embedVocab)
		}
	}
	pool := model.EmbeddingOptions{Pooling: model.PoolMean, Normalize: true}
	in.w.run = func() error {
		out, err := m.Forward(ids, nil)
		if err == nil {
			_, err = pool.Embed(out)
		}
		return err
	}
	return nil
}

// EmbedSummary describes each embed result of r beside the SGEMM rate the same
// report measured at the model's GEMM shape (rows x d_ff x d_model), if it has
// one: the embed op's work is GEMM-shaped, so that rate is its ceiling. Where
// the report timed SGEMM more than once (gpubench times it before and after
// the model), the faster run is the ceiling: a busy moment of a shared machine
// must not lower the bar.
func EmbedSummary(r Report) []string {
	var lines []string
	for _, x := range r.Results {
		if x.Op != OpEmbed {
			continue
		}
		s := x.Shape
		line := fmt.Sprintf("embed: %.1f sequences/s, %.0f tokens/s, %.1f GFLOP/s", x.SequencesPerS, x.SequencesPerS*float64(s.Seq), x.GFLOPs)
		name := Case{Op: OpGemm, Shape: Shape{Batch: s.Batch, Seq: s.Seq, DModel: s.DModel, DFF: s.DFF}}.Name()
		var wall, perCPU float64 // the best SGEMM rates: GFLOP/s, and GFLOP per CPU-second
		for _, g := range r.Results {
			if g.Op == OpGemm && g.Name == name && g.GFLOPs > 0 {
				wall = max(wall, g.GFLOPs)
				if g.CPUMs > 0 {
					perCPU = max(perCPU, g.FLOPs/g.CPUMs/1e6)
				}
			}
		}
		if wall > 0 {
			line += fmt.Sprintf(" = %.0f%% of the SGEMM rate measured in this run (%.1f GFLOP/s, %s)", 100*x.GFLOPs/wall, wall, name)
			if x.CPUMs > 0 && perCPU > 0 { // per CPU-second: what holds on a machine shared with other work
				own := x.FLOPs / x.CPUMs / 1e6
				line += fmt.Sprintf("; per CPU-second %.1f vs %.1f GFLOP = %.0f%%", own, perCPU, 100*own/perCPU)
			}
		}
		lines = append(lines, line)
	}
	return lines
}
