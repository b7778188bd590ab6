package model

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/parallel"
	"github.com/clattn/clattn/safetensors"
)

// ErrInput marks token ids a model cannot take: an empty batch or row, an id
// outside the vocabulary, a row longer than the position table. The error names
// the row and position.
var ErrInput = errors.New("bad model input")

// Bert is a BERT-family encoder: token, position and token-type embeddings
// summed and normalised, then a stack of post-norm encoder layers (the same
// EncoderLayer as nn.TransformerEncoderLayer, q/k/v packed into in_proj), and
// an optional pooler tanh(dense(first token)). It is safe for concurrent use:
// calls are serialised.
type Bert struct {
	mu  sync.Mutex // guards scratch and the weights
	cfg BertConfig
	be  backend.Backend
	// word, position and tokenType are the embedding tables, kept on the host:
	// a batch's embeddings are gathered there (into gathered, kept between
	// calls) and written to the device once.
	word, position, tokenType []float32
	gathered                  []float32
	embNorm                   *LayerNorm
	encoder                   *Encoder
	poolW, poolB              backend.Tensor // nil without a pooler
	weights                   []backend.Tensor
	scratch                   scratch
}

// bertHeads are the task heads of Hugging Face checkpoints (BertForMaskedLM's
// cls.*, RoBERTa's lm_head.*) that sit beside the encoder's prefix and that an
// encoder for embeddings does not use.
var bertHeads = []string{"cls.", "lm_head."}

// LoadBertDir loads dir/config.json and dir/model.safetensors.
func LoadBertDir(be backend.Backend, dir string) (*Bert, error) {
	cfg, err := ReadBertConfig(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(path); err != nil {
		if _, binErr := os.Stat(filepath.Join(dir, "pytorch_model.bin")); binErr == nil {
			return nil, fmt.Errorf("model: %s: no model.safetensors (pytorch_model.bin is not read: save the model with safetensors)", dir)
		}
		return nil, fmt.Errorf("model: %w", err)
	}
	w, err := ReadWeights(path)
	if err != nil {
		return nil, err
	}
	m, err := LoadBert(be, cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// LoadBert loads the weights of a BERT-family encoder named as Hugging Face
// does (embeddings.*, encoder.layer.N.*, optional pooler.dense.*), with or
// without a "bert." (or, for RoBERTa-style models, "roberta.") prefix. A
// prefixed checkpoint may also hold a masked-LM head (cls.*, lm_head.*), which
// is not used. Every missing, unexpected or mis-shaped tensor is named in the
// error, which wraps ErrWeights.
func LoadBert(be backend.Backend, cfg BertConfig, w *Weights) (*Bert, error) {
	const op = "Bert"
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l, err := newLoader(op, be, w, "")
	if err != nil {
		return nil, err
	}
	prefix := bertPrefix(cfg, w)
	l = l.sub(prefix)
	e := cfg.HiddenSize
	m := &Bert{cfg: cfg, be: be, scratch: scratch{be: be}}
	m.word = l.floats("embeddings.word_embeddings.weight", cfg.VocabSize, e)
	m.position = l.floats("embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, e)
	m.tokenType = l.floats("embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, e)
	checkPositionIDs(l, cfg.MaxPositionEmbeddings)
	m.embNorm = loadLayerNorm(l.sub("embeddings.LayerNorm."), e, float32(cfg.LayerNormEps), false)
	stack := bertLayersAsTorch(l, cfg)
	if w.byName[prefix+"pooler.dense.weight"] != nil || w.byName[prefix+"pooler.dense.bias"] != nil {
		m.poolW = l.tensor("pooler.dense.weight", e, e)
		m.poolB = l.tensor("pooler.dense.bias", e)
	}
	for _, name := range w.Names() {
		if !strings.HasPrefix(name, prefix) && !slices.ContainsFunc(bertHeads, func(h string) bool { return strings.HasPrefix(name, h) }) {
			l.problemf("unexpected %s %v", name, backend.Shape(w.byName[name].Shape))
		}
	}
	ts, err := l.finish(op)
	if err != nil {
		return nil, err
	}
	m.weights = ts
	enc, err := LoadEncoder(be, EncoderConfig{Layer: cfg.layerConfig(), Layers: cfg.NumHiddenLayers}, stack, "")
	if err != nil {
		return nil, errors.Join(err, releaseAll(m.weights))
	}
	m.encoder = enc
	return m, nil
}

// bertPrefix is "bert." (or "roberta.") where the checkpoint's embeddings are
// named under it, else "".
func bertPrefix(cfg BertConfig, w *Weights) string {
	p := "bert."
	if cfg.robertaStyle() {
		p = "roberta."
	}
	if w.byName[p+"embeddings.word_embeddings.weight"] != nil {
		return p
	}
	return ""
}

// checkPositionIDs accepts the embeddings.position_ids buffer older
// checkpoints carry, only if it holds 0, 1, ... (the positions the model uses).
func checkPositionIDs(l loader, maxPos int) {
	name := l.prefix + "embeddings.position_ids"
	t := l.w.byName[name]
	if t == nil {
		return
	}
	l.used[name] = true
	if t.DType != safetensors.I64 || !backend.Shape(t.Shape).Equal(backend.Shape{1, maxPos}) {
		l.problemf("%s is %s %v, want I64 [1 %d]", name, t.DType, backend.Shape(t.Shape), maxPos)
		return
	}
	ids, err := t.Float64s()
	if err != nil {
		l.problemf("%s: %v", name, err)
		return
	}
	for i, id := range ids {
		if id != float64(i) {
			l.problemf("%s[%d] = %g, want %d (only positions 0, 1, ... are implemented)", name, i, id, i)
			return
		}
	}
}

// bertLayersAsTorch reads each encoder.layer.N.* weight through l (so a problem
// is named by its Hugging Face name) and returns the same weights named as an
// nn.TransformerEncoder's layers.N.*, with query, key and value packed into
// in_proj_weight and in_proj_bias.
func bertLayersAsTorch(l loader, cfg BertConfig) *Weights {
	e, f := cfg.HiddenSize, cfg.IntermediateSize
	var out []*safetensors.Tensor
	for i := range cfg.NumHiddenLayers {
		hf := l.sub(fmt.Sprintf("encoder.layer.%d.", i))
		pt := fmt.Sprintf("layers.%d.", i)
		add := func(name string, data []float32, shape ...int) {
			if data != nil {
				out = append(out, safetensors.FromFloat32(pt+name, data, shape...))
			}
		}
		var inW, inB []float32
		packed := true
		for _, p := range []string{"query", "key", "value"} {
			w := hf.floats("attention.self."+p+".weight", e, e)
			b := hf.floats("attention.self."+p+".bias", e)
			packed = packed && w != nil && b != nil
			inW, inB = append(inW, w...), append(inB, b...)
		}
		if packed {
			add("self_attn.in_proj_weight", inW, 3*e, e)
			add("self_attn.in_proj_bias", inB, 3*e)
		}
		add("self_attn.out_proj.weight", hf.floats("attention.output.dense.weight", e, e), e, e)
		add("self_attn.out_proj.bias", hf.floats("attention.output.dense.bias", e), e)
		add("norm1.weight", hf.floats("attention.output.LayerNorm.weight", e), e)
		add("norm1.bias", hf.floats("attention.output.LayerNorm.bias", e), e)
		add("linear1.weight", hf.floats("intermediate.dense.weight", f, e), f, e)
		add("linear1.bias", hf.floats("intermediate.dense.bias", f), f)
		add("linear2.weight", hf.floats("output.dense.weight", e, f), e, f)
		add("linear2.bias", hf.floats("output.dense.bias", e), e)
		add("norm2.weight", hf.floats("output.LayerNorm.weight", e), e)
		add("norm2.bias", hf.floats("output.LayerNorm.bias", e), e)
	}
	w, err := NewWeights(out...)
	if err != nil { // the names above are distinct by construction
		l.problemf("%v", err)
	}
	return w
}

// Config is the model's configuration.
func (m *Bert) Config() BertConfig { return m.cfg }

// HasPooler reports whether the checkpoint has a pooler (pooler.dense.*).
func (m *Bert) HasPooler() bool { return m.poolW != nil }

// BertOutput is the result of a batch: host arrays, row-major.
type BertOutput struct {
	// Batch is the number of rows, Seq the longest row's length, Dim the hidden size.
	Batch, Seq, Dim int
	// Lengths are the rows' token counts (the attention mask is 1 for
	// positions below them).
	Lengths []int
	// Hidden is the last hidden state [Batch, Seq, Dim]; positions of padding are 0.
	Hidden []float32
	// Pooler is tanh(dense(first token)) [Batch, Dim], or nil without a pooler.
	Pooler []float32
}

// Forward encodes a batch of token id rows of any lengths (one row a
// sentence, special tokens included, e.g. [CLS] ... [SEP]). tokenTypes is nil
// (all 0) or a row of segment ids for every row of ids, of the same length.
//
// Rows are right-padded to the longest inside, and padding keys are masked,
// so each row's result is the one the row gets alone.
func (m *Bert) Forward(ids, tokenTypes [][]int) (*BertOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.encoder == nil {
		return nil, fmt.Errorf("Bert: %w", backend.ErrReleased)
	}
	lengths, err := m.checkInput(ids, tokenTypes)
	if err != nil {
		return nil, err
	}
	e := m.cfg.HiddenSize
	b, s := len(ids), slices.Max(lengths)
	res := &BertOutput{Batch: b, Seq: s, Dim: e, Lengths: lengths, Hidden: make([]float32, b*s*e)}
	hidden, err := m.encode(ids, tokenTypes, lengths, s)
	if err != nil {
		return nil, err
	}
	if m.poolW != nil {
		if res.Pooler, err = m.pool(hidden, b, s); err != nil {
			return nil, err
		}
	}
	if err := m.be.Download(res.Hidden, hidden); err != nil {
		return nil, fmt.Errorf("Bert: %w", err)
	}
	for i, n := range lengths {
		clear(res.Hidden[(i*s+n)*e : (i+1)*s*e])
	}
	return res, nil
}

// checkInput validates ids and tokenTypes and returns the row lengths.
func (m *Bert) checkInput(ids, tokenTypes [][]int) ([]int, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("Bert: %w: %s", ErrInput, fmt.Sprintf(format, args...))
	}
	if len(ids) == 0 {
		return nil, bad("no rows of token ids")
	}
	if tokenTypes != nil && len(tokenTypes) != len(ids) {
		return nil, bad("%d rows of token type ids for %d rows of token ids", len(tokenTypes), len(ids))
	}
	lengths := make([]int, len(ids))
	for i, row := range ids {
		if len(row) == 0 {
			return nil, bad("row %d is empty", i)
		}
		if max := m.cfg.MaxTokens(); len(row) > max {
			return nil, bad("row %d has %d tokens, more than the %d positions of max_position_embeddings", i, len(row), max)
		}
		for j, id := range row {
			if id < 0 || id >= m.cfg.VocabSize {
				return nil, bad("row %d, position %d: token id %d outside the vocabulary [0, %d)", i, j, id, m.cfg.VocabSize)
			}
		}
		if tokenTypes != nil {
			if len(tokenTypes[i]) != len(row) {
				return nil, bad("row %d has %d token ids and %d token type ids", i, len(row), len(tokenTypes[i]))
			}
			for j, t := range tokenTypes[i] {
				if t < 0 || t >= m.cfg.TypeVocabSize {
					return nil, bad("row %d, position %d: token type %d outside [0, %d)", i, j, t, m.cfg.TypeVocabSize)
				}
			}
		}
		lengths[i] = len(row)
	}
	return lengths, nil
}

// encode runs the embeddings and the encoder on rows padded to s tokens and
// returns the last hidden state [B, s, E] in a scratch tensor, valid until the
// next call. A batch of the shape before reuses every buffer of it: a forward
// pass then allocates no device memory, and on the host only what it returns.
func (m *Bert) encode(ids, tokenTypes [][]int, lengths []int, s int) (backend.Tensor, error) {
	const op = "Bert"
	e, b := m.cfg.HiddenSize, len(ids)
	if len(m.gathered) != b*s*e {
		m.gathered = make([]float32, b*s*e)
	}
	x := m.gathered
	off := m.cfg.positionOffset()
	parallel.For(b, func(i int) {
		for j, id := range ids[i] {
			tt := 0
			if tokenTypes != nil {
				tt = tokenTypes[i][j]
			}
			dst := x[(i*s+j)*e : (i*s+j+1)*e]
			word, typ, pos := m.word[id*e:(id+1)*e], m.tokenType[tt*e:(tt+1)*e], m.position[(off+j)*e:(off+j+1)*e]
			for k := range dst {
				dst[k] = (word[k] + typ[k]) + pos[k] // Hugging Face's order of the sums
			}
		}
		clear(x[(i*s+len(ids[i]))*e : (i+1)*s*e]) // padding: zeros, not the last call's tokens
	})
	raw, err := m.scratch.write("embeddings", x, b, s, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	emb, err := m.scratch.get("normalized", b, s, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := m.embNorm.apply(emb, raw, nil); err != nil {
		return nil, err
	}
	var masks EncoderOptions
	if slices.Min(lengths) < s {
		pad := make([]float32, b*s)
		for i, n := range lengths {
			for j := n; j < s; j++ {
				pad[i*s+j] = 1
			}
		}
		kp, err := m.scratch.write("padding", pad, b, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		masks.KeyPadding = kp
	}
	hidden, err := m.scratch.get("hidden", b, s, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := m.encoder.forwardInto(hidden, emb, masks); err != nil {
		return nil, err
	}
	return hidden, nil
}

// pool computes tanh(dense(hidden[:, 0])) [B, E] on the host from a device
// GEMM over the first token of each row.
func (m *Bert) pool(hidden backend.Tensor, b, s int) ([]float32, error) {
	e := m.cfg.HiddenSize
	dst, err := m.scratch.get("pooler", b, e)
	if err != nil {
		return nil, fmt.Errorf("Bert: %w", err)
	}
	first := backend.Mat{T: hidden, Batch: 1, Rows: b, Cols: e, BatchStride: b * s * e, RowStride: s * e}
	if err := m.be.Gemm(backend.RowsOf(dst), first, backend.MatOf(m.poolW), backend.GemmOptions{TransB: true, Bias: m.poolB}); err != nil {
		return nil, err
	}
	out := make([]float32, b*e)
	if err := m.be.Download(out, dst); err != nil {
		return nil, fmt.Errorf("Bert: %w", err)
	}
	for i, v := range out {
		out[i] = float32(math.Tanh(float64(v)))
	}
	return out, nil
}

// Close releases the weights and intermediate tensors; it is idempotent.
func (m *Bert) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if m.encoder != nil {
		err = m.encoder.Close()
	}
	err = errors.Join(err, releaseAll(m.weights), m.scratch.release())
	m.encoder, m.weights = nil, nil
	return err
}
