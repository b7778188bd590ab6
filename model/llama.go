package model

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/clattn/clattn/backend"
)

// CausalLM is a decoder-only language model of the Llama family
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM): token embedding,
// Layers pre-norm blocks, a final RMSNorm and lm_head (or the embedding, tied).
// Each block is
//
//	h = x + o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))   n = rmsnorm(x)
//	x = h + down_proj(silu(gate_proj(m)) * up_proj(m))                      m = rmsnorm(h)
//
// with grouped-query causal attention over a KVCache. Weights stay on the
// device in the checkpoint's dtype where the backend stores it (bfloat16 and
// float16 as Gemm's B operand), else as float32. Activations stay on the
// device; the embedding table stays on the host, where a lookup gathers the
// rows of the new tokens. It is safe for concurrent use: calls are serialised.
type CausalLM struct {
	mu      sync.Mutex // guards scratch and weights
	cfg     LlamaConfig
	be      backend.Backend
	embed   *hostWeight
	layers  []*llamaLayer
	norm    backend.Tensor // model.norm.weight [E]
	lmHead  backend.Tensor // lm_head.weight [V, E], or the embedding's device copy when tied
	weights []backend.Tensor
	scratch scratch
	invFreq []float64 // the rotary frequencies (cfg.RopeFrequencies), computed once
}

// llamaLayer holds one block's weights. q_proj, k_proj and v_proj are packed
// into one [(H+2*Hkv)*D, E] matrix (and bias), so one GEMM projects all three.
type llamaLayer struct {
	inputNorm, postNorm backend.Tensor
	qkv, qkvBias, o     backend.Tensor
	ffn                 backend.GatedFFNWeights
}

// LoadCausalLM loads a model of configuration cfg from weights named as Hugging
// Face's checkpoints (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight,
// ..., model.norm.weight, lm_head.weight unless tied). Every missing,
// unexpected or mis-shaped tensor is named in the error (ErrWeights).
func LoadCausalLM(be backend.Backend, cfg LlamaConfig, w *Weights) (*CausalLM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l, err := newLoader("CausalLM", be, w, "")
	if err != nil {
		return nil, err
	}
	e, v := cfg.Hidden, cfg.VocabSize
	m := &CausalLM{cfg: cfg, be: be, scratch: scratch{be: be}, invFreq: cfg.RopeFrequencies()}
	m.embed = l.host("model.embed_tokens.weight", v, e)
	for i := range cfg.Layers {
		m.layers = append(m.layers, loadLlamaLayer(l.sub(fmt.Sprintf("model.layers.%d.", i)), cfg))
	}
	m.norm = l.tensor("model.norm.weight", e)
	if cfg.TieWordEmbeddings {
		m.lmHead = l.uploadWeight("model.embed_tokens.weight", m.embed)
		// Some tied checkpoints store lm_head.weight too: accepted where it is
		// the embedding itself, bit for bit.
		if head, embed := w.byName["lm_head.weight"], w.byName["model.embed_tokens.weight"]; head != nil && embed != nil {
			l.used["lm_head.weight"] = true
			if head.DType != embed.DType || !backend.Shape(head.Shape).Equal(embed.Shape) || !bytes.Equal(head.Data, embed.Data) {
				l.problemf("lm_head.weight differs from model.embed_tokens.weight, but tie_word_embeddings is true")
			}
		}
	} else {
		m.lmHead = l.matrix("lm_head.weight", v, e)
	}
	ts, err := l.finish("CausalLM")
	if err != nil {
		return nil, err
	}
	m.weights = ts
	return m, nil
}

func loadLlamaLayer(l loader, cfg LlamaConfig) *llamaLayer {
	e, d := cfg.Hidden, cfg.HeadDim
	q, kv := cfg.Heads*d, cfg.KVHeads*d
	a := l.sub("self_attn.")
	layer := &llamaLayer{
		inputNorm: l.tensor("input_layernorm.weight", e),
		postNorm:  l.tensor("post_attention_layernorm.weight", e),
		qkv: l.uploadWeight("self_attn.{q,k,v}_proj.weight", concatRows(
			a.host("q_proj.weight", q, e), a.host("k_proj.weight", kv, e), a.host("v_proj.weight", kv, e))),
		o: a.matrix("o_proj.weight", e, q),
		ffn: backend.GatedFFNWeights{
			Gate: l.matrix("mlp.gate_proj.weight", cfg.Intermediate, e),
			Up:   l.matrix("mlp.up_proj.weight", cfg.Intermediate, e),
			Down: l.matrix("mlp.down_proj.weight", e, cfg.Intermediate),
		},
	}
	if cfg.AttentionBias {
		bias := concatRows(a.host("q_proj.bias", q), a.host("k_proj.bias", kv), a.host("v_proj.bias", kv))
		if bias != nil {
			layer.qkvBias = l.upload("self_attn.{q,k,v}_proj.bias", bias.float32s(), q+2*kv)
		}
	}
	return layer
}

// Config is the model's configuration.
func (m *CausalLM) Config() LlamaConfig { return m.cfg }

// Close releases the weights and intermediate tensors; it is idempotent.
// Caches made by NewCache are closed separately.
func (m *CausalLM) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := errors.Join(releaseAll(m.weights), m.scratch.release())
	m.weights, m.layers = nil, nil
	return err
}

// KVCache holds the keys (after RoPE) and values of every layer for a batch
// of sequences, preallocated to a capacity: [B, Hkv, capacity, D] per layer,
// float32 or float16. Every row has the same length (left-padded prompts), with
// the padding positions remembered and masked out of attention. A cache serves
// one sequence of calls at a time: it is not safe for concurrent use.
type KVCache struct {
	batch, capacity int
	dtype           backend.DType
	k, v            []backend.Tensor
	length          int
	pad             []float32 // [batch, capacity]: 1 where that position of that row is padding
	next            []int     // per row: the position id of its next real token
}

// NewCache allocates an empty cache for batch sequences of up to capacity
// tokens, storing K and V as dtype (backend.Float32 or backend.Float16).
func (m *CausalLM) NewCache(batch, capacity int, dtype backend.DType) (*KVCache, error) {
	const op = "NewCache"
	if batch <= 0 || capacity <= 0 {
		return nil, backend.ShapeErrorf(op, "batch %d, capacity %d: want both > 0", batch, capacity)
	}
	if dtype != backend.Float32 && dtype != backend.Float16 {
		return nil, backend.ArgumentErrorf(op, "KV dtype %v, want f32 or f16", dtype)
	}
	if w := m.cfg.SlidingWindow; w > 0 && capacity > w {
		return nil, fmt.Errorf("model: %w: capacity %d exceeds sliding_window %d: sliding-window attention is not supported",
			ErrConfig, capacity, w)
	}
	c := &KVCache{batch: batch, capacity: capacity, dtype: dtype, pad: make([]float32, batch*capacity), next: make([]int, batch)}
	for range m.cfg.Layers {
		for _, dst := range []*[]backend.Tensor{&c.k, &c.v} {
			t, err := m.be.AllocAs(dtype, batch, m.cfg.KVHeads, capacity, m.cfg.HeadDim)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("model: %s: %w", op, err), c.Close())
			}
			*dst = append(*dst, t)
		}
	}
	return c, nil
}

// Len is the number of positions filled.
func (c *KVCache) Len() int { return c.length }

// Capacity is the most positions the cache holds.
func (c *KVCache) Capacity() int { return c.capacity }

// Reset empties the cache (its memory is kept).
func (c *KVCache) Reset() {
	c.length = 0
	clear(c.pad)
	clear(c.next)
}

// SetLen sets the number of filled positions to n (0 <= n <= capacity) without
// computing anything. Shortening forgets the later positions (a benchmark
// repeating one step, draft tokens rejected); lengthening takes the new
// positions' keys and values as the cache holds them (zeros in a new cache),
// as real tokens, for benchmarks of a long context without its prefill.
func (c *KVCache) SetLen(n int) error {
	if n < 0 || n > c.capacity {
		return backend.ShapeErrorf("KVCache.SetLen", "length %d outside the capacity %d", n, c.capacity)
	}
	for r := range c.batch {
		row := c.pad[r*c.capacity : (r+1)*c.capacity]
		if n > c.length {
			clear(row[c.length:n])
		}
		c.next[r] = 0
		for _, p := range row[:n] {
			if p == 0 {
				c.next[r]++
			}
		}
	}
	c.length = n
	return nil
}

// Close releases the cache's tensors; it is idempotent.
func (c *KVCache) Close() error {
	err := errors.Join(releaseAll(c.k), releaseAll(c.v))
	c.k, c.v = nil, nil
	return err
}

// Forward empties cache and runs the prompts ids [B][S] through the model,
// filling positions 0..S-1 of the cache, and returns the logits [B, S, vocab]
// (a tensor the caller owns). attentionMask [B][S] follows Hugging Face: 1 for a
// token, 0 for padding (left padding: pads first); nil means all ones. Position
// ids are cumsum(mask) - 1, as Hugging Face's generate, so a left-padded row
// gives the logits of the same tokens unpadded; rows of padding tokens have
// every key masked and give the logits of a zero hidden state.
func (m *CausalLM) Forward(cache *KVCache, ids [][]int, attentionMask [][]int) (backend.Tensor, error) {
	if cache == nil {
		return nil, backend.ShapeErrorf("CausalLM.Forward", "no cache")
	}
	cache.Reset()
	return m.run("CausalLM.Forward", cache, ids, attentionMask, false)
}

// Step appends the tokens ids [B][n] (n >= 1, the same for every row: one new
// token per sequence when decoding) to the cache and returns their logits
// [B, n, vocab] (a tensor the caller owns).
func (m *CausalLM) Step(cache *KVCache, ids [][]int) (backend.Tensor, error) {
	return m.run("CausalLM.Step", cache, ids, nil, false)
}

// StepLast is Step returning only the logits of each row's last new token,
// [B, 1, vocab], which is all that choosing the next token needs.
func (m *CausalLM) StepLast(cache *KVCache, ids [][]int, attentionMask [][]int) (backend.Tensor, error) {
	return m.run("CausalLM.StepLast", cache, ids, attentionMask, true)
}

// run appends ids (masked by mask, nil = all tokens) to cache and returns the
// logits of every new position, or of the last one per row.
func (m *CausalLM) run(op string, cache *KVCache, ids [][]int, mask [][]int, lastOnly bool) (backend.Tensor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.weights == nil {
		return nil, fmt.Errorf("%s: %w: model is closed", op, backend.ErrReleased)
	}
	if cache == nil || cache.k == nil {
		return nil, fmt.Errorf("%s: %w: no cache, or a closed one", op, backend.ErrReleased)
	}
	if len(cache.k) != m.cfg.Layers || !cache.k[0].Shape().Equal(backend.Shape{cache.batch, m.cfg.KVHeads, cache.capacity, m.cfg.HeadDim}) {
		return nil, backend.ShapeErrorf(op, "cache was made for another model")
	}
	n, err := m.checkTokens(op, cache, ids, mask)
	if err != nil {
		return nil, err
	}
	b, e, p0 := cache.batch, m.cfg.Hidden, cache.length
	positions := make([]float32, b*n)
	anyPad := false
	for r := range b {
		for s := range n {
			if mask != nil && mask[r][s] == 0 {
				cache.pad[r*cache.capacity+p0+s] = 1
				positions[r*n+s] = 1 // Hugging Face's masked_fill(mask == 0, 1)
				continue
			}
			cache.pad[r*cache.capacity+p0+s] = 0
			positions[r*n+s] = float32(cache.next[r])
			cache.next[r]++
		}
		for _, p := range cache.pad[r*cache.capacity : r*cache.capacity+p0+n] {
			anyPad = anyPad || p != 0
		}
	}
	// The residual stream and the positions live in scratch tensors, so a
	// step of the size of the one before makes no tensor but the logits.
	x, err := m.scratch.write("x", m.embed.gather(ids, n), b, n, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	pos, err := m.scratch.write("positions", positions, b, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var keyPad backend.Tensor
	if anyPad {
		kp := make([]float32, b*(p0+n))
		for r := range b {
			copy(kp[r*(p0+n):(r+1)*(p0+n)], cache.pad[r*cache.capacity:])
		}
		if keyPad, err = m.be.Upload(kp, b, p0+n); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		defer keyPad.Release()
	}
	for i, layer := range m.layers {
		if err := m.block(layer, cache.k[i], cache.v[i], x, pos, keyPad, p0, n); err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", op, i, err)
		}
	}
	cache.length = p0 + n
	return m.logits(op, x, b, n, lastOnly)
}

// checkTokens validates ids and mask against the model and the cache's room,
// and returns the number of new tokens per row.
func (m *CausalLM) checkTokens(op string, cache *KVCache, ids, mask [][]int) (int, error) {
	if len(ids) != cache.batch {
		return 0, backend.ShapeErrorf(op, "%d rows of token ids for a cache of batch %d", len(ids), cache.batch)
	}
	n := len(ids[0])
	if n == 0 {
		return 0, backend.ShapeErrorf(op, "no token ids")
	}
	for r, row := range ids {
		if len(row) != n {
			return 0, backend.ShapeErrorf(op, "row %d has %d token ids, row 0 has %d (pad on the left and mask the pads)", r, len(row), n)
		}
		for s, id := range row {
			if id < 0 || id >= m.cfg.VocabSize {
				return 0, backend.ArgumentErrorf(op, "token id %d (row %d, position %d) outside the vocabulary [0, %d)", id, r, s, m.cfg.VocabSize)
			}
		}
	}
	if mask != nil {
		if len(mask) != len(ids) {
			return 0, backend.ShapeErrorf(op, "attention mask has %d rows, ids have %d", len(mask), len(ids))
		}
		for r, row := range mask {
			if len(row) != n {
				return 0, backend.ShapeErrorf(op, "attention mask row %d has %d entries, want %d", r, len(row), n)
			}
			for s, v := range row {
				if v != 0 && v != 1 {
					return 0, backend.ArgumentErrorf(op, "attention mask [%d][%d] = %d, want 0 (padding) or 1 (token)", r, s, v)
				}
			}
		}
	}
	if cache.length+n > cache.capacity {
		return 0, backend.ShapeErrorf(op, "%d tokens after %d cached exceed the cache capacity %d", n, cache.length, cache.capacity)
	}
	return n, nil
}

// block runs one decoder block on the residual stream x [B, n, E] in place,
// appending the new keys and values at position p0 of the layer's caches.
func (m *CausalLM) block(l *llamaLayer, kc, vc, x, pos, keyPad backend.Tensor, p0, n int) error {
	cfg := m.cfg
	b, e, d := x.Shape()[0], cfg.Hidden, cfg.HeadDim
	qw, kvw := cfg.Heads*d, cfg.KVHeads*d
	h, err := m.scratch.get("h", b, n, e)
	if err != nil {
		return err
	}
	qkv, err := m.scratch.get("qkv", b, n, qw+2*kvw)
	if err != nil {
		return err
	}
	attn, err := m.scratch.get("attn", b, n, qw)
	if err != nil {
		return err
	}
	if err := m.be.RMSNorm(h, x, backend.RMSNormOptions{Weight: l.inputNorm, Eps: cfg.RMSNormEps}); err != nil {
		return err
	}
	if err := m.be.Gemm(backend.RowsOf(qkv), backend.RowsOf(h), backend.MatOf(l.qkv),
		backend.GemmOptions{TransB: true, Bias: l.qkvBias}); err != nil {
		return err
	}
	q, err := backend.PackedHeads(qkv, cfg.Heads, d, 0)
	if err != nil {
		return err
	}
	k, err := backend.PackedHeads(qkv, cfg.KVHeads, d, qw)
	if err != nil {
		return err
	}
	v, err := backend.PackedHeads(qkv, cfg.KVHeads, d, qw+kvw)
	if err != nil {
		return err
	}
	// The query heads and the key heads lie side by side in qkv: one Rotary
	// call turns both.
	qk, err := backend.PackedHeads(qkv, cfg.Heads+cfg.KVHeads, d, 0)
	if err != nil {
		return err
	}
	if err := m.be.Rotary(qk, qk, backend.RotaryOptions{InvFreq: m.invFreq, Positions: pos}); err != nil {
		return err
	}
	if err := m.be.WriteKV(kc, k, p0); err != nil {
		return err
	}
	if err := m.be.WriteKV(vc, v, p0); err != nil {
		return err
	}
	keys, err := backend.KVHeads(kc, p0+n)
	if err != nil {
		return err
	}
	values, err := backend.KVHeads(vc, p0+n)
	if err != nil {
		return err
	}
	out, err := backend.PackedHeads(attn, cfg.Heads, d, 0)
	if err != nil {
		return err
	}
	if err := m.be.Attention(out, q, keys, values, backend.AttentionOptions{Causal: backend.CausalBottomRight, KeyPadding: keyPad}); err != nil {
		return err
	}
	res := backend.RowsOf(x)
	if err := m.be.Gemm(backend.RowsOf(x), backend.RowsOf(attn), backend.MatOf(l.o), backend.GemmOptions{TransB: true, Residual: &res}); err != nil {
		return err
	}
	if err := m.be.RMSNorm(h, x, backend.RMSNormOptions{Weight: l.postNorm, Eps: cfg.RMSNormEps}); err != nil {
		return err
	}
	return m.be.GatedFeedForward(x, h, l.ffn, backend.FFNOptions{Activation: backend.SiLU, Residual: x})
}

// logits applies the final norm to x [B, n, E] and projects onto the
// vocabulary: every position, or the last of each row.
func (m *CausalLM) logits(op string, x backend.Tensor, b, n int, lastOnly bool) (backend.Tensor, error) {
	e, v := m.cfg.Hidden, m.cfg.VocabSize
	h, err := m.scratch.get("h", b, n, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := m.be.RMSNorm(h, x, backend.RMSNormOptions{Weight: m.norm, Eps: m.cfg.RMSNormEps}); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rows, src := n, backend.RowsOf(h)
	if lastOnly {
		rows = 1
		src = backend.Mat{T: h, Batch: b, Rows: 1, Cols: e, Offset: (n - 1) * e, BatchStride: n * e, RowStride: e}
	}
	out, err := m.be.Alloc(b, rows, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	dst := backend.RowsOf(out)
	if lastOnly {
		dst = backend.MatOf(out)
	}
	if err := m.be.Gemm(dst, src, backend.MatOf(m.lmHead), backend.GemmOptions{TransB: true}); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", op, err), out.Release())
	}
	return out, nil
}

// GreedyOptions configure Greedy.
type GreedyOptions struct {
	// MaxNewTokens is the most tokens generated per sequence (>= 1).
	MaxNewTokens int
	// IgnoreEOS generates MaxNewTokens tokens for every sequence, past any
	// end-of-sequence id (benchmarks of a fixed length). By default a sequence
	// ends at the first of the model's EOSTokenIDs it generates.
	IgnoreEOS bool
}

// Generation is the outcome of Greedy: the new token ids of each row and the
// time spent in the prompt (prefill) and in the later steps (decode).
type Generation struct {
	// IDs are the new tokens of each row, every row of the same length: the
	// number of steps run, MaxNewTokens or fewer where every row ended
	// earlier. A row that ended at an EOS id holds it, then PadTokenID up to
	// that length (as Hugging Face's generate returns its sequences).
	IDs [][]int
	// Lengths are the tokens each row generated, its EOS id included:
	// IDs[r][Lengths[r]:] is padding.
	Lengths []int
	// Finished says which rows ended at an EOS id (IDs[r][Lengths[r]-1]);
	// the others reached MaxNewTokens.
	Finished        []bool
	Prefill, Decode time.Duration
}

// Greedy empties cache, runs the prompts ids (attentionMask as Forward; nil =
// all tokens) and then picks the most likely token of each row (argmax, the
// lowest id on ties), feeding each back through the cache, as Hugging Face's
// generate with do_sample false: a row ends at the first of the model's
// EOSTokenIDs it generates (unless opt.IgnoreEOS) and is fed PadTokenID from
// then on; Greedy returns when every row has ended or generated
// opt.MaxNewTokens tokens. The cache must hold the prompt and
// MaxNewTokens-1 more tokens.
func (m *CausalLM) Greedy(cache *KVCache, ids [][]int, attentionMask [][]int, opt GreedyOptions) (Generation, error) {
	const op = "CausalLM.Greedy"
	maxNew := opt.MaxNewTokens
	if maxNew < 1 {
		return Generation{}, backend.ArgumentErrorf(op, "max new tokens %d, want >= 1", maxNew)
	}
	if cache == nil {
		return Generation{}, backend.ShapeErrorf(op, "no cache")
	}
	if len(ids) > 0 && len(ids[0])+maxNew-1 > cache.capacity {
		return Generation{}, backend.ShapeErrorf(op, "a prompt of %d tokens and %d new ones exceed the cache capacity %d",
			len(ids[0]), maxNew, cache.capacity)
	}
	var eos []int
	if !opt.IgnoreEOS {
		eos = m.cfg.EOSTokenIDs
	}
	cache.Reset()
	g := Generation{IDs: make([][]int, len(ids)), Lengths: make([]int, len(ids)), Finished: make([]bool, len(ids))}
	next := make([][]int, len(ids))
	logits := make([]float32, len(ids)*m.cfg.VocabSize)
	start := time.Now()
	for step := 0; step < maxNew; step++ {
		in, mask := next, [][]int(nil)
		if step == 0 {
			in, mask = ids, attentionMask
		}
		t, err := m.run(op, cache, in, mask, true)
		if err != nil {
			return g, err
		}
		err = m.be.Download(logits, t)
		if err := errors.Join(err, t.Release()); err != nil {
			return g, fmt.Errorf("%s: %w", op, err)
		}
		running := 0
		for r := range ids {
			id := m.cfg.PadTokenID
			if !g.Finished[r] {
				if id, err = argmax(logits[r*m.cfg.VocabSize : (r+1)*m.cfg.VocabSize]); err != nil {
					return g, fmt.Errorf("%s: row %d, new token %d: %w", op, r, step, err)
				}
				g.Lengths[r]++
				g.Finished[r] = slices.Contains(eos, id)
			}
			if !g.Finished[r] {
				running++
			}
			g.IDs[r] = append(g.IDs[r], id)
			next[r] = []int{id}
		}
		if step == 0 {
			g.Prefill = time.Since(start)
			start = time.Now()
		}
		if running == 0 {
			break
		}
	}
	g.Decode = time.Since(start)
	return g, nil
}

// argmax is the index of the largest value (the first on ties); NaN logits are an error.
func argmax(x []float32) (int, error) {
	best := 0
	for i, v := range x {
		if v != v {
			return 0, fmt.Errorf("logit %d is NaN", i)
		}
		if v > x[best] {
			best = i
		}
	}
	return best, nil
}
