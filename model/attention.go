package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/clattn/clattn/backend"
)

// MHAConfig is the shape of a multi-head attention block: the arguments of
// PyTorch's nn.MultiheadAttention (dropout 0).
type MHAConfig struct {
	DModel, Heads int
	// KDim and VDim are the features of the key and value inputs (PyTorch's
	// kdim and vdim); 0 means DModel. Where either differs from DModel the
	// weights are PyTorch's separate q_proj_weight [E, E], k_proj_weight
	// [E, KDim] and v_proj_weight [E, VDim] (in_proj_bias stays packed, [3E]);
	// else the packed in_proj_weight [3E, E].
	KDim, VDim int
	// NoBias drops in_proj_bias and out_proj.bias (PyTorch's bias=False).
	NoBias bool
	// AddBiasKV appends the learnt bias_k and bias_v [1, 1, E] to the projected
	// keys and values as one more key (PyTorch's add_bias_kv).
	AddBiasKV bool
	// AddZeroAttn appends an all-zero key and value after them (add_zero_attn).
	AddZeroAttn bool
	// Layout of the query, key, value and output tensors: BatchFirst (the
	// default) or SeqFirst (PyTorch's default, batch_first=False).
	Layout Layout
}

func (c MHAConfig) validate(op string) error {
	if c.DModel <= 0 || c.Heads <= 0 {
		return backend.ShapeErrorf(op, "d_model = %d, heads = %d, want both > 0", c.DModel, c.Heads)
	}
	if c.DModel%c.Heads != 0 {
		return backend.ShapeErrorf(op, "d_model %d is not divisible by %d heads", c.DModel, c.Heads)
	}
	if c.KDim < 0 || c.VDim < 0 {
		return backend.ShapeErrorf(op, "kdim = %d, vdim = %d, want >= 0 (0 means d_model)", c.KDim, c.VDim)
	}
	return c.Layout.validate(op)
}

func (c MHAConfig) kdim() int { return orDefault(c.KDim, c.DModel) }
func (c MHAConfig) vdim() int { return orDefault(c.VDim, c.DModel) }

// orDefault is v, or def where v is 0.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// packed reports whether the projections are one in_proj_weight [3E, E].
func (c MHAConfig) packed() bool { return c.kdim() == c.DModel && c.vdim() == c.DModel }

// extraKeys is the number of keys appended after the projection.
func (c MHAConfig) extraKeys() int {
	n := 0
	if c.AddBiasKV {
		n++
	}
	if c.AddZeroAttn {
		n++
	}
	return n
}

// MultiHeadAttention is PyTorch's nn.MultiheadAttention (dropout 0): it
// projects queries, keys and values (one packed in_proj_weight, or separate
// weights for other key/value sizes), attends per head and projects the
// concatenated heads with out_proj. It keeps its weights and intermediate
// tensors on the device until Close. It is safe for concurrent use: calls are
// serialised.
type MultiHeadAttention struct {
	mu  sync.Mutex // guards scratch, consts and weights across calls and Close
	cfg MHAConfig
	be  backend.Backend
	// inW is the packed in_proj_weight [3E, E]; with separate weights it is nil
	// and qW, kW, vW hold q_proj_weight, k_proj_weight and v_proj_weight.
	inW, qW, kW, vW backend.Tensor
	// inB is in_proj_bias [3E]; bQ, bK, bV [E] and bKV [2E] are its parts,
	// uploaded apart because a GEMM bias is a whole tensor.
	inB, bQ, bK, bV, bKV backend.Tensor
	outW, outB           backend.Tensor
	// extraKV [n, 2E] holds the rows appended to the projected keys|values
	// (bias_k|bias_v, then zeros for add_zero_attn); eye is the [n, n] identity
	// a GEMM copies them with.
	extraKV, eye backend.Tensor
	weights      []backend.Tensor
	scratch      scratch
	consts       consts
}

// LoadMultiHeadAttention loads nn.MultiheadAttention weights named as its
// state_dict under prefix: in_proj_weight (or q_proj_weight, k_proj_weight and
// v_proj_weight where KDim or VDim differ from DModel), in_proj_bias,
// out_proj.weight, out_proj.bias (no biases with NoBias) and, with AddBiasKV,
// bias_k and bias_v. Every missing, unexpected or mis-shaped tensor under
// prefix is named in the error.
func LoadMultiHeadAttention(be backend.Backend, cfg MHAConfig, w *Weights, prefix string) (*MultiHeadAttention, error) {
	if err := cfg.validate("MultiHeadAttention"); err != nil {
		return nil, err
	}
	l, err := newLoader("MultiHeadAttention", be, w, prefix)
	if err != nil {
		return nil, err
	}
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
	m := &MultiHeadAttention{cfg: cfg, be: l.be, scratch: scratch{be: l.be}, consts: consts{be: l.be}}
	if cfg.packed() {
		m.inW = l.tensor("in_proj_weight", 3*e, e)
	} else {
		m.qW = l.tensor("q_proj_weight", e, e)
		m.kW = l.tensor("k_proj_weight", e, cfg.kdim())
		m.vW = l.tensor("v_proj_weight", e, cfg.vdim())
	}
	m.outW = l.tensor("out_proj.weight", e, e)
	if !cfg.NoBias {
		b := l.floats("in_proj_bias", 3*e)
		m.inB = l.upload("in_proj_bias", b, 3*e)
		if b != nil {
			m.bQ = l.upload("in_proj_bias[:E]", b[:e], e)
			m.bK = l.upload("in_proj_bias[E:2E]", b[e:2*e], e)
			m.bV = l.upload("in_proj_bias[2E:]", b[2*e:], e)
			m.bKV = l.upload("in_proj_bias[E:]", b[e:], 2*e)
		}
		m.outB = l.tensor("out_proj.bias", e)
	}
	if n := cfg.extraKeys(); n > 0 {
		rows := make([]float32, n*2*e)
		if cfg.AddBiasKV {
			bk, bv := l.floats("bias_k", 1, 1, e), l.floats("bias_v", 1, 1, e)
			copy(rows[:e], bk)
			copy(rows[e:2*e], bv)
		}
		eye := make([]float32, n*n)
		for i := range n {
			eye[i*n+i] = 1
		}
		m.extraKV = l.upload("bias_k|bias_v", rows, n, 2*e)
		m.eye = l.upload("identity", eye, n, n)
	}
	return m
}

// Config is the block's configuration.
func (m *MultiHeadAttention) Config() MHAConfig { return m.cfg }

// Forward attends from query [B, Sq, E] to keyValue [B, Sk, E] (key = value, as
// in a Transformer; nil or query itself for self-attention) under masks (see
// MHAOptions) and returns a new [B, Sq, E] tensor the caller owns ([S, B, E]
// for every tensor with SeqFirst). It uses the fused attention kernel.
func (m *MultiHeadAttention) Forward(query, keyValue backend.Tensor, masks backend.AttentionOptions) (backend.Tensor, error) {
	out, _, err := m.Attend(query, keyValue, keyValue, MHAOptions{AttentionOptions: masks})
	return out, err
}

// ForwardWithWeights is Forward that also returns the attention weights of every
// head, [B, H, Sq, Sk] (rows sum to 1, or are 0 where every key is masked),
// computed by the unfused path Scores -> Softmax -> AttendValues. The caller owns
// both tensors.
func (m *MultiHeadAttention) ForwardWithWeights(query, keyValue backend.Tensor, masks backend.AttentionOptions) (out, weights backend.Tensor, err error) {
	return m.Attend(query, keyValue, keyValue, MHAOptions{AttentionOptions: masks, NeedWeights: true})
}

// Attend is nn.MultiheadAttention's forward(query, key, value, ...): query
// [B, Sq, E], key [B, Sk, KDim] and value [B, Sk, VDim] ([S, B, ...] with
// SeqFirst; a nil key means query, a nil value means key). It returns a new
// output tensor shaped as query and, with opt.NeedWeights, the attention
// weights [B, H, Sq, Sk'] or, with opt.AverageWeights, [B, Sq, Sk'], where
// Sk' counts the appended bias_k and zero keys. The caller owns both.
func (m *MultiHeadAttention) Attend(query, key, value backend.Tensor, opt MHAOptions) (out, weights backend.Tensor, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if query == nil {
		return nil, nil, backend.NoTensorError("MultiHeadAttention", "query")
	}
	if out, err = m.be.Alloc(query.Shape()...); err != nil {
		return nil, nil, fmt.Errorf("MultiHeadAttention: %w", err)
	}
	if weights, err = m.run(out, query, key, value, nil, nil, opt); err != nil {
		return nil, nil, errors.Join(err, out.Release())
	}
	return out, weights, nil
}

// run writes out_proj(attention(query, key, value)) + residual into dst, shaped
// as query, normalised by norm where it is not nil (post-norm layers, in the
// product's call); residual may be nil. With opt.NeedWeights it also returns
// the attention weights (a new tensor the caller owns).
func (m *MultiHeadAttention) run(dst, query, key, value, residual backend.Tensor, norm *LayerNorm, opt MHAOptions) (backend.Tensor, error) {
	const op = "MultiHeadAttention"
	if key == nil {
		key = query
	}
	if value == nil {
		value = key
	}
	e, h, lay := m.cfg.DModel, m.cfg.Heads, m.cfg.Layout
	qs, ks, vs := query.Shape(), key.Shape(), value.Shape()
	if len(qs) != 3 || qs[2] != e {
		return nil, backend.ShapeErrorf(op, "query is %v, want %s", qs, lay.want("batch", e))
	}
	b, sq := lay.dims(qs)
	if len(ks) != 3 || ks[2] != m.cfg.kdim() || ks[lay.batchDim()] != b {
		return nil, backend.ShapeErrorf(op, "key is %v, want %s (kdim %d) for query %v", ks, lay.want(fmt.Sprint(b), m.cfg.kdim()), m.cfg.kdim(), qs)
	}
	_, sk := lay.dims(ks)
	if len(vs) != 3 || vs[2] != m.cfg.vdim() || !backend.Shape(lay.shape(b, sk, vs[2])).Equal(vs) {
		return nil, backend.ShapeErrorf(op, "value is %v, want %v (vdim %d) for key %v", vs,
			backend.Shape(lay.shape(b, sk, m.cfg.vdim())), m.cfg.vdim(), ks)
	}
	if ds := dst.Shape(); !ds.Equal(qs) {
		return nil, backend.ShapeErrorf(op, "output is %v, want %v", ds, qs)
	}
	extra := m.cfg.extraKeys()
	masks, err := m.prepareMasks(opt, b, h, sq, sk, extra)
	if err != nil {
		return nil, err
	}
	q, k, v, err := m.project(query, key, value, b, sq, sk)
	if err != nil {
		return nil, err
	}
	attn, err := m.scratch.get("attn", qs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	heads, err := lay.heads(attn, h, e/h, 0)
	if err != nil {
		return nil, err
	}
	var weights backend.Tensor
	if opt.NeedWeights {
		if weights, err = m.attendUnfused(heads, q, k, v, masks); err != nil {
			return nil, err
		}
	} else if err := m.be.Attention(heads, q, k, v, masks); err != nil {
		return nil, err
	}
	gemm := backend.GemmOptions{TransB: true, Bias: m.outB, Norm: norm.options()}
	if residual != nil {
		r := backend.RowsOf(residual)
		gemm.Residual = &r
	}
	if err := m.be.Gemm(backend.RowsOf(dst), backend.RowsOf(attn), backend.MatOf(m.outW), gemm); err != nil {
		return nil, joinRelease(err, weights)
	}
	if weights != nil && opt.AverageWeights {
		avg, err := m.averageHeads(weights)
		if err != nil {
			return nil, joinRelease(err, weights)
		}
		if err := weights.Release(); err != nil {
			return nil, joinRelease(err, avg)
		}
		weights = avg
	}
	return weights, nil
}

// weight views rows [first, first+n) of the packed in_proj_weight, or w itself.
func (m *MultiHeadAttention) weight(w backend.Tensor, first, n int) backend.Mat {
	if m.inW == nil {
		return backend.MatOf(w)
	}
	e := m.cfg.DModel
	return backend.Mat{T: m.inW, Batch: 1, Rows: n, Cols: e, Offset: first * e, BatchStride: n * e, RowStride: e}
}

// project computes the heads of Q, K and V. Self-attention with the packed
// weight is one GEMM of query into [B, S, 3E]. Otherwise query is projected
// into [B, Sq, E] and key and value into [B, Sk', 2E] (one GEMM where key is
// value and the weight is packed, two otherwise), whose last rows of each batch
// receive bias_k|bias_v and the zero key. The heads are views into those
// tensors, laid out as the inputs.
func (m *MultiHeadAttention) project(query, key, value backend.Tensor, b, sq, sk int) (q, k, v backend.Heads, err error) {
	const op = "MultiHeadAttention"
	e, lay := m.cfg.DModel, m.cfg.Layout
	extra := m.cfg.extraKeys()
	t := backend.GemmOptions{TransB: true}
	gemm := func(dst, a, w backend.Mat, bias backend.Tensor) error {
		t.Bias = bias
		return m.be.Gemm(dst, a, w, t)
	}
	if key == query && value == query && m.inW != nil && extra == 0 {
		qkv, err := m.scratch.get("qkv", lay.shape(b, sq, 3*e)...)
		if err != nil {
			return q, k, v, fmt.Errorf("%s: %w", op, err)
		}
		if err := gemm(backend.RowsOf(qkv), backend.RowsOf(query), backend.MatOf(m.inW), m.inB); err != nil {
			return q, k, v, err
		}
		return m.headsOf(qkv, qkv, 0, e, 2*e)
	}
	qp, err := m.scratch.get("q", lay.shape(b, sq, e)...)
	if err != nil {
		return q, k, v, fmt.Errorf("%s: %w", op, err)
	}
	kvp, err := m.scratch.get("kv", lay.shape(b, sk+extra, 2*e)...)
	if err != nil {
		return q, k, v, fmt.Errorf("%s: %w", op, err)
	}
	if err := gemm(backend.RowsOf(qp), backend.RowsOf(query), m.weight(m.qW, 0, e), m.bQ); err != nil {
		return q, k, v, err
	}
	// rows views the first sk positions of each batch: all rows without extra keys.
	rows := func(t backend.Tensor, col, width int) backend.Mat {
		if extra == 0 {
			return cols(t, col, width)
		}
		return lay.rows(t, sk, col, width)
	}
	if key == value && m.inW != nil {
		err = gemm(rows(kvp, 0, 2*e), rows(key, 0, e), m.weight(nil, e, 2*e), m.bKV)
	} else {
		err = gemm(rows(kvp, 0, e), rows(key, 0, m.cfg.kdim()), m.weight(m.kW, e, e), m.bK)
		if err == nil {
			err = gemm(rows(kvp, e, e), rows(value, 0, m.cfg.vdim()), m.weight(m.vW, 2*e, e), m.bV)
		}
	}
	if err == nil && extra > 0 {
		err = m.be.Gemm(lay.tail(kvp, sk, extra), backend.MatOf(m.eye), backend.MatOf(m.extraKV), backend.GemmOptions{})
	}
	if err != nil {
		return q, k, v, err
	}
	return m.headsOf(qp, kvp, 0, 0, e)
}

// headsOf views the heads of Q (in qt at column qCol) and K, V (in kvt at
// columns kCol and vCol).
func (m *MultiHeadAttention) headsOf(qt, kvt backend.Tensor, qCol, kCol, vCol int) (q, k, v backend.Heads, err error) {
	lay, h := m.cfg.Layout, m.cfg.Heads
	d := m.cfg.DModel / h
	if q, err = lay.heads(qt, h, d, qCol); err != nil {
		return
	}
	if k, err = lay.heads(kvt, h, d, kCol); err != nil {
		return
	}
	v, err = lay.heads(kvt, h, d, vCol)
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
	err := errors.Join(releaseAll(m.weights), m.scratch.release(), m.consts.release())
	m.weights = nil
	return err
}
