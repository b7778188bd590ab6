package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/clattn/clattn/backend"
)

// MHAConfig is the shape of a multi-head attention block (PyTorch's
// nn.MultiheadAttention with kdim = vdim = embed_dim).
type MHAConfig struct {
	DModel, Heads int
	// NoBias drops in_proj_bias and out_proj.bias (PyTorch's bias=False).
	NoBias bool
}

func (c MHAConfig) validate(op string) error {
	if c.DModel <= 0 || c.Heads <= 0 {
		return backend.ShapeErrorf(op, "d_model = %d, heads = %d, want both > 0", c.DModel, c.Heads)
	}
	if c.DModel%c.Heads != 0 {
		return backend.ShapeErrorf(op, "d_model %d is not divisible by %d heads", c.DModel, c.Heads)
	}
	return nil
}

// MultiHeadAttention projects queries, keys and values with one packed weight
// (in_proj_weight [3E, E]), attends per head and projects the concatenated heads
// with out_proj. It keeps its weights and intermediate tensors on the device
// until Close. It is safe for concurrent use: calls are serialised.
type MultiHeadAttention struct {
	mu  sync.Mutex // guards scratch and weights across Forward calls and Close
	cfg MHAConfig
	be  backend.Backend
	// inW is in_proj_weight [3E, E]; inB its bias [3E], split into inBQ [E] and
	// inBKV [2E] for cross-attention, which projects Q and K,V with separate GEMMs.
	inW, inB, inBQ, inBKV backend.Tensor
	outW, outB            backend.Tensor
	weights               []backend.Tensor
	scratch               scratch
}

// LoadMultiHeadAttention loads self_attn-style weights named prefix+"in_proj_weight",
// "in_proj_bias", "out_proj.weight" and "out_proj.bias" (no biases with NoBias).
// Every missing, unexpected or mis-shaped tensor under prefix is named in the error.
func LoadMultiHeadAttention(be backend.Backend, cfg MHAConfig, w *Weights, prefix string) (*MultiHeadAttention, error) {
	if err := cfg.validate("MultiHeadAttention"); err != nil {
		return nil, err
	}
	l := newLoader(be, w, prefix)
	m := loadMHA(l, cfg)
	ts, err := l.finish("MultiHeadAttention")
	if err != nil {
		return nil, err
	}
	m.weights = ts
	return m, nil
}

// loadMHA reads the attention weights through l; problems are collected in l.
func loadMHA(l loader, cfg MHAConfig) *MultiHeadAttention {
	e := cfg.DModel
	m := &MultiHeadAttention{cfg: cfg, be: l.be, scratch: scratch{be: l.be}}
	m.inW = l.tensor("in_proj_weight", 3*e, e)
	m.outW = l.tensor("out_proj.weight", e, e)
	if !cfg.NoBias {
		b := l.floats("in_proj_bias", 3*e)
		m.inB = l.upload("in_proj_bias", b, 3*e)
		if b != nil {
			m.inBQ = l.upload("in_proj_bias[:E]", b[:e], e)
			m.inBKV = l.upload("in_proj_bias[E:]", b[e:], 2*e)
		}
		m.outB = l.tensor("out_proj.bias", e)
	}
	return m
}

// Config is the block's configuration.
func (m *MultiHeadAttention) Config() MHAConfig { return m.cfg }

// Forward attends from query [B, Sq, E] to keyValue [B, Sk, E] (key = value, as
// in a Transformer; nil or query itself for self-attention) under masks (causal
// flag, [Sq, Sk] or [B, H, Sq, Sk] mask, [B, Sk] key padding, scale) and returns a
// new [B, Sq, E] tensor the caller owns. It uses the fused attention kernel.
func (m *MultiHeadAttention) Forward(query, keyValue backend.Tensor, masks backend.AttentionOptions) (backend.Tensor, error) {
	out, _, err := m.forwardNew(query, keyValue, masks, false)
	return out, err
}

// ForwardWithWeights is Forward that also returns the attention weights of every
// head, [B, H, Sq, Sk] (rows sum to 1, or are 0 where every key is masked),
// computed by the unfused path Scores -> Softmax -> AttendValues. The caller owns
// both tensors.
func (m *MultiHeadAttention) ForwardWithWeights(query, keyValue backend.Tensor, masks backend.AttentionOptions) (out, weights backend.Tensor, err error) {
	return m.forwardNew(query, keyValue, masks, true)
}

func (m *MultiHeadAttention) forwardNew(query, keyValue backend.Tensor, masks backend.AttentionOptions, needWeights bool) (backend.Tensor, backend.Tensor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if query == nil {
		return nil, nil, backend.NoTensorError("MultiHeadAttention", "query")
	}
	out, err := m.be.Alloc(query.Shape()...)
	if err != nil {
		return nil, nil, fmt.Errorf("MultiHeadAttention: %w", err)
	}
	weights, err := m.attend(out, query, keyValue, nil, masks, needWeights)
	if err != nil {
		return nil, nil, errors.Join(err, out.Release())
	}
	return out, weights, nil
}

// attend writes out_proj(attention(query, keyValue)) + residual into dst
// [B, Sq, E]; residual may be nil. With needWeights it also returns the
// [B, H, Sq, Sk] attention weights (a new tensor the caller owns).
func (m *MultiHeadAttention) attend(dst, query, keyValue, residual backend.Tensor, masks backend.AttentionOptions, needWeights bool) (backend.Tensor, error) {
	const op = "MultiHeadAttention"
	self := keyValue == nil || keyValue == query
	if self {
		keyValue = query
	}
	e, h := m.cfg.DModel, m.cfg.Heads
	qs, kvs := query.Shape(), keyValue.Shape()
	if len(qs) != 3 || qs[2] != e {
		return nil, backend.ShapeErrorf(op, "query is %v, want [batch seq %d]", qs, e)
	}
	if len(kvs) != 3 || kvs[2] != e || kvs[0] != qs[0] {
		return nil, backend.ShapeErrorf(op, "key/value is %v, want [%d seq %d] for query %v", kvs, qs[0], e, qs)
	}
	if ds := dst.Shape(); !ds.Equal(qs) {
		return nil, backend.ShapeErrorf(op, "output is %v, want %v", ds, qs)
	}
	q, k, v, err := m.project(query, keyValue, self)
	if err != nil {
		return nil, err
	}
	attn, err := m.scratch.get("attn", qs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	heads, err := backend.PackedHeads(attn, h, e/h, 0)
	if err != nil {
		return nil, err
	}
	var weights backend.Tensor
	if needWeights {
		if weights, err = m.attendUnfused(heads, q, k, v, masks); err != nil {
			return nil, err
		}
	} else if err := m.be.Attention(heads, q, k, v, masks); err != nil {
		return nil, err
	}
	opt := backend.GemmOptions{TransB: true, Bias: m.outB}
	if residual != nil {
		r := backend.RowsOf(residual)
		opt.Residual = &r
	}
	if err := m.be.Gemm(backend.RowsOf(dst), backend.RowsOf(attn), backend.MatOf(m.outW), opt); err != nil {
		return nil, errors.Join(err, release(weights))
	}
	return weights, nil
}

// project computes Q, K and V. Self-attention is one GEMM of query with the
// whole in_proj_weight into [B, S, 3E]; cross-attention projects query with rows
// 0..E-1 and keyValue with rows E..3E-1 of the same weight (views, not copies).
// The heads are views into the projections.
func (m *MultiHeadAttention) project(query, keyValue backend.Tensor, self bool) (q, k, v backend.Heads, err error) {
	e, h := m.cfg.DModel, m.cfg.Heads
	d := e / h
	qs, kvs := query.Shape(), keyValue.Shape()
	if self {
		qkv, err := m.scratch.get("qkv", qs[0], qs[1], 3*e)
		if err != nil {
			return q, k, v, fmt.Errorf("MultiHeadAttention: %w", err)
		}
		if err := m.be.Gemm(backend.RowsOf(qkv), backend.RowsOf(query), backend.MatOf(m.inW),
			backend.GemmOptions{TransB: true, Bias: m.inB}); err != nil {
			return q, k, v, err
		}
		return packedQKV(qkv, qkv, h, d, 0, e, 2*e)
	}
	qp, err := m.scratch.get("q", qs[0], qs[1], e)
	if err != nil {
		return q, k, v, fmt.Errorf("MultiHeadAttention: %w", err)
	}
	kvp, err := m.scratch.get("kv", kvs[0], kvs[1], 2*e)
	if err != nil {
		return q, k, v, fmt.Errorf("MultiHeadAttention: %w", err)
	}
	wq := backend.Mat{T: m.inW, Batch: 1, Rows: e, Cols: e, BatchStride: e * e, RowStride: e}
	wkv := backend.Mat{T: m.inW, Batch: 1, Rows: 2 * e, Cols: e, Offset: e * e, BatchStride: 2 * e * e, RowStride: e}
	if err := m.be.Gemm(backend.RowsOf(qp), backend.RowsOf(query), wq, backend.GemmOptions{TransB: true, Bias: m.inBQ}); err != nil {
		return q, k, v, err
	}
	if err := m.be.Gemm(backend.RowsOf(kvp), backend.RowsOf(keyValue), wkv, backend.GemmOptions{TransB: true, Bias: m.inBKV}); err != nil {
		return q, k, v, err
	}
	return packedQKV(qp, kvp, h, d, 0, 0, e)
}

// packedQKV views the heads of Q (in qt at column qOff) and K, V (in kvt at
// columns kOff and vOff).
func packedQKV(qt, kvt backend.Tensor, h, d, qOff, kOff, vOff int) (q, k, v backend.Heads, err error) {
	if q, err = backend.PackedHeads(qt, h, d, qOff); err != nil {
		return
	}
	if k, err = backend.PackedHeads(kvt, h, d, kOff); err != nil {
		return
	}
	v, err = backend.PackedHeads(kvt, h, d, vOff)
	return
}

// attendUnfused runs Scores -> Softmax -> AttendValues into out and returns the
// softmax weights [B, H, Sq, Sk].
func (m *MultiHeadAttention) attendUnfused(out, q, k, v backend.Heads, masks backend.AttentionOptions) (backend.Tensor, error) {
	w, err := m.be.Alloc(q.Batch, q.Heads, q.Seq, k.Seq)
	if err != nil {
		return nil, fmt.Errorf("MultiHeadAttention: %w", err)
	}
	err = m.be.Scores(w, q, k, masks.EffectiveScale(q.Dim))
	if err == nil {
		err = m.be.Softmax(w, w, masks)
	}
	if err == nil {
		err = m.be.AttendValues(out, w, v)
	}
	if err != nil {
		return nil, errors.Join(err, w.Release())
	}
	return w, nil
}

// Close releases the weights and intermediate tensors; it is idempotent.
func (m *MultiHeadAttention) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := errors.Join(releaseAll(m.weights), m.scratch.release())
	m.weights = nil
	return err
}
