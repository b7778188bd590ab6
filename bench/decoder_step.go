package bench

import (
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
)

// OpDecoderStep is one decoding step of a Llama block: Seq new tokens per
// sequence (1 when decoding) through pre-RMSNorm, the packed q/k/v GEMM, RoPE,
// the K/V write, grouped-query attention over a cache of SeqKV positions,
// o_proj and the SwiGLU FFN, with bfloat16 weights and K/V of Shape.KVType. It
// is bound by reading the weights and the cache, so its GB/s counts those bytes.
const OpDecoderStep Op = "decoder-step"

// Llama32Step is the decoder-step shape of Llama-3.2-1B (hidden 2048, 32 query
// heads, 8 K/V heads of 64, intermediate 8192) at a context of seqKV positions,
// K/V in float16.
func Llama32Step(seqKV int) Shape {
	return Shape{Batch: 1, Seq: 1, SeqKV: seqKV, DModel: 2048, Heads: 32, HeadsKV: 8, HeadDim: 64, DFF: 8192, KVDType: "f16"}
}

// decoderStepWeights are the weight elements of one block: q/k/v, o, gate, up,
// down (bfloat16) and the two norms (float32, counted as two 2-byte halves each).
func decoderStepWeights(s Shape) (halves, floats float64) {
	e, d, f := float64(s.DModel), float64(s.HeadDim), float64(s.DFF)
	h, hkv := float64(s.Heads), float64(s.KVHeads())
	return e*(h+2*hkv)*d + h*d*e + 3*e*f, 2 * e
}

// prepareDecoderStep loads random blocks (each a model.CausalLM of one layer
// and an 8-token vocabulary, so the embedding lookup, the final norm and
// lm_head are negligible) with caches whose first SeqKV-Seq positions count as
// filled: streamCopies of them, so that runs taking turns read their weights and
// cache from memory, as a model of many layers does, not from a last-level
// cache that holds one block. Each run steps Seq tokens at the same place of
// the next copy (SetLen puts its cache back).
func prepareDecoderStep(in *inputs, c Case) error {
	s := c.Shape
	cfg := model.LlamaConfig{Architecture: "LlamaForCausalLM", VocabSize: 8, Hidden: s.DModel, Intermediate: s.DFF,
		Layers: 1, Heads: s.Heads, KVHeads: s.KVHeads(), HeadDim: s.HeadDim, RMSNormEps: 1e-5, RopeTheta: 500000}
	type block struct {
		lm    *model.CausalLM
		cache *model.KVCache
	}
	blocks := make([]block, streamCopies(c))
	for i := range blocks {
		w, err := model.RandomWeights(cfg, backend.BFloat16, uint64(i+1))
		if err != nil {
			return err
		}
		lm, err := model.LoadCausalLM(in.b, cfg, w)
		if err != nil {
			return err
		}
		in.w.closers = append(in.w.closers, lm.Close)
		cache, err := lm.NewCache(s.Batch, s.KV(), s.KVType())
		if err != nil {
			return err
		}
		in.w.closers = append(in.w.closers, cache.Close)
		blocks[i] = block{lm, cache}
	}
	ids := make([][]int, s.Batch)
	for r := range ids {
		ids[r] = make([]int, s.Seq)
		for i := range ids[r] {
			ids[r][i] = (r + i) % cfg.VocabSize
		}
	}
	next := 0
	in.w.run = func() error {
		blk := blocks[next%len(blocks)]
		next++
		if err := blk.cache.SetLen(s.KV() - s.Seq); err != nil {
			return err
		}
		logits, err := blk.lm.Step(blk.cache, ids)
		if err != nil {
			return err
		}
		return logits.Release()
	}
	return nil
}
