package golden

import (
	"fmt"
	"math"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// sdpa runs softmax(scale*q*k^T + masks)*v on q, k, v [B, H, S, D] twice: fused
// (out) and unfused (out (unfused), attn_weights).
func (r *runner) sdpa() error {
	var hs [3]backend.Heads
	var maxV float64
	for i, name := range []string{"q", "k", "v"} {
		t, err := r.tensor(name, 4)
		if err != nil {
			return err
		}
		bt, err := r.upload(t)
		if err != nil {
			return err
		}
		if hs[i], err = backend.HeadsOf(bt); err != nil {
			return err
		}
		if name == "v" {
			if maxV, err = maxAbs(t); err != nil {
				return err
			}
		}
	}
	q, k, v := hs[0], hs[1], hs[2]
	opt, err := r.masks("attn_mask", "key_padding_mask", "key_padding")
	if err != nil {
		return err
	}
	if m := r.f.Metadata["mask"]; m != "" && opt.Mask == nil {
		return fmt.Errorf("metadata mask = %q but the file has no attn_mask", m)
	}
	scale, err := r.floatOpt("scale", 0)
	if err != nil {
		return err
	}
	opt.Scale = float32(scale)
	if err := r.checkAllUsed(); err != nil {
		return err
	}

	out, err := r.alloc(q.Batch, q.Heads, q.Seq, v.Dim)
	if err != nil {
		return err
	}
	outUnfused, err := r.alloc(q.Batch, q.Heads, q.Seq, v.Dim)
	if err != nil {
		return err
	}
	weights, err := r.alloc(q.Batch, q.Heads, q.Seq, k.Seq)
	if err != nil {
		return err
	}
	oh, err := backend.HeadsOf(out)
	if err != nil {
		return err
	}
	if err := r.be.Attention(oh, q, k, v, opt); err != nil {
		return err
	}
	if err := r.compare("out", "out", out, maxV); err != nil {
		return err
	}
	if err := r.be.Scores(weights, q, k, opt.EffectiveScale(q.Dim)); err != nil {
		return err
	}
	if err := r.be.Softmax(weights, weights, opt); err != nil {
		return err
	}
	uh, err := backend.HeadsOf(outUnfused)
	if err != nil {
		return err
	}
	if err := r.be.AttendValues(uh, weights, v); err != nil {
		return err
	}
	if err := r.compare("out (unfused)", "out", outUnfused, maxV); err != nil {
		return err
	}
	return r.compareWeights(weights)
}

// compareWeights checks attention weights where the file has a reference.
func (r *runner) compareWeights(w backend.Tensor) error {
	if r.f.Tensor("attn_weights_f64") == nil {
		return nil
	}
	return r.compare("attn_weights", "attn_weights", w, 0)
}

// alloc allocates a tensor released when the case ends.
func (r *runner) alloc(shape ...int) (backend.Tensor, error) {
	t, err := r.be.Alloc(shape...)
	return r.own(t), err
}

// maxAbs is the largest finite |x| of a file tensor.
func maxAbs(t *safetensors.Tensor) (float64, error) {
	data, err := t.Float64s()
	if err != nil {
		return 0, err
	}
	m := 0.0
	for _, x := range data {
		if a := math.Abs(x); a > m && !math.IsInf(a, 0) {
			m = a
		}
	}
	return m, nil
}

// heads reads the number of heads, which no weight shape tells.
func (r *runner) heads() (int, error) {
	h, err := r.intOpt("heads", 0)
	if err == nil && h <= 0 {
		err = fmt.Errorf("metadata heads = %q, want a positive integer", r.f.Metadata["heads"])
	}
	return h, err
}

// input uploads a [B, S, E] input.
func (r *runner) input(name string) (backend.Tensor, error) {
	t, err := r.tensor(name, 3)
	if err != nil {
		return nil, err
	}
	return r.upload(t)
}

// mha runs nn.MultiheadAttention with query q and key = value = kv.
func (r *runner) mha() error {
	qt, err := r.tensor("q", 3)
	if err != nil {
		return err
	}
	kvt, err := r.tensor("kv", 3)
	if err != nil {
		return err
	}
	query, err := r.upload(qt)
	if err != nil {
		return err
	}
	keyValue := query // self-attention: one packed QKV GEMM
	if !sameData(qt, kvt) {
		if keyValue, err = r.upload(kvt); err != nil {
			return err
		}
	}
	h, err := r.heads()
	if err != nil {
		return err
	}
	bias, err := r.boolOpt("bias", true)
	if err != nil {
		return err
	}
	masks, err := r.masks("attn_mask", "key_padding_mask", "key_padding")
	if err != nil {
		return err
	}
	w, err := r.weights()
	if err != nil {
		return err
	}
	if err := onlyUnder(w, "self_attn."); err != nil {
		return err
	}
	m, err := model.LoadMultiHeadAttention(r.be, model.MHAConfig{DModel: qt.Shape[2], Heads: h, NoBias: !bias}, w, "self_attn.")
	if err != nil {
		return err
	}
	r.closers = append(r.closers, m)
	out, err := m.Forward(query, keyValue, masks)
	if err != nil {
		return err
	}
	if err := r.compare("out", "out", r.own(out), 0); err != nil {
		return err
	}
	outUnfused, weights, err := m.ForwardWithWeights(query, keyValue, masks)
	if err != nil {
		return err
	}
	r.own(outUnfused)
	r.own(weights)
	if err := r.compare("out (unfused)", "out", outUnfused, 0); err != nil {
		return err
	}
	return r.compareWeights(weights)
}

// onlyUnder fails if a weight is not under prefix.
func onlyUnder(w *model.Weights, prefix string) error {
	var extra []string
	for _, n := range w.Names() {
		if !strings.HasPrefix(n, prefix) {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("unexpected tensor(s) outside %q: %s", prefix, strings.Join(extra, ", "))
	}
	return nil
}

// layerConfig reads a layer's configuration; d_ff comes from linear1.weight.
func (r *runner) layerConfig(dModel int, prefix string) (model.LayerConfig, error) {
	cfg := model.LayerConfig{DModel: dModel}
	h, err := r.heads()
	if err != nil {
		return cfg, err
	}
	cfg.Heads = h
	bias, err := r.boolOpt("bias", true)
	if err != nil {
		return cfg, err
	}
	if !bias {
		return cfg, fmt.Errorf("bias = False is not supported for %s layers", r.kind)
	}
	act := r.f.Metadata["activation"]
	if act == "" {
		act = "relu"
	}
	if act != "relu" && act != "gelu" {
		return cfg, fmt.Errorf("activation %q is not supported (want relu or gelu)", act)
	}
	if cfg.Activation, err = backend.ParseActivation(act); err != nil {
		return cfg, err
	}
	if cfg.NormFirst, err = r.boolOpt("norm_first", false); err != nil {
		return cfg, err
	}
	eps, err := r.floatOpt("eps", 1e-5)
	if err != nil {
		return cfg, err
	}
	if cfg.Eps, err = backend.EpsFloat32(eps); err != nil {
		return cfg, err
	}
	l1 := r.f.Tensor(prefix + "linear1.weight")
	if l1 == nil || len(l1.Shape) != 2 {
		return cfg, fmt.Errorf("cannot tell d_ff: no 2-D %slinear1.weight", prefix)
	}
	cfg.DFF = l1.Shape[0]
	return cfg, nil
}

// encoder runs one nn.TransformerEncoderLayer, or a nn.TransformerEncoder stack
// where the weights are named layers.N.*.
func (r *runner) encoder() error {
	x, err := r.input("x")
	if err != nil {
		return err
	}
	masks, err := r.masks("attn_mask", "key_padding_mask", "key_padding")
	if err != nil {
		return err
	}
	layers, err := r.intOpt("layers", 1)
	if err != nil {
		return err
	}
	finalNorm, err := r.boolOpt("final_norm", false)
	if err != nil {
		return err
	}
	w, err := r.weights()
	if err != nil {
		return err
	}
	stack := layers > 1 || r.f.Tensor("layers.0.self_attn.in_proj_weight") != nil
	prefix := ""
	if stack {
		prefix = "layers.0."
	} else if finalNorm {
		return fmt.Errorf("final_norm on a single layer that is not a stack (no layers.0.* weights)")
	}
	cfg, err := r.layerConfig(x.Shape()[2], prefix)
	if err != nil {
		return err
	}
	var fused func() (backend.Tensor, error)
	var unfused func() (backend.Tensor, []backend.Tensor, error)
	if stack {
		enc, err := model.LoadEncoder(r.be, model.EncoderConfig{Layer: cfg, Layers: layers, FinalNorm: finalNorm}, w, "")
		if err != nil {
			return err
		}
		r.closers = append(r.closers, enc)
		fused = func() (backend.Tensor, error) { return enc.Forward(x, masks) }
		unfused = func() (backend.Tensor, []backend.Tensor, error) { return enc.ForwardWithWeights(x, masks) }
	} else {
		layer, err := model.LoadEncoderLayer(r.be, cfg, w, "")
		if err != nil {
			return err
		}
		r.closers = append(r.closers, layer)
		fused = func() (backend.Tensor, error) { return layer.Forward(x, masks) }
		unfused = func() (backend.Tensor, []backend.Tensor, error) {
			out, w, err := layer.ForwardWithWeights(x, masks)
			return out, []backend.Tensor{w}, err
		}
	}
	out, err := fused()
	if err != nil {
		return err
	}
	if err := r.compare("out", "out", r.own(out), 0); err != nil {
		return err
	}
	out, ws, err := unfused()
	for _, t := range ws {
		r.own(t)
	}
	if err != nil {
		return err
	}
	return r.compare("out (unfused)", "out", r.own(out), 0)
}

// decoder runs one nn.TransformerDecoderLayer.
func (r *runner) decoder() error {
	tgt, err := r.input("tgt")
	if err != nil {
		return err
	}
	memory, err := r.input("memory")
	if err != nil {
		return err
	}
	var opt model.DecoderOptions
	if opt.Self, err = r.masks("tgt_mask", "tgt_key_padding_mask", "tgt_key_padding"); err != nil {
		return err
	}
	mem, err := r.masks("memory_mask", "memory_key_padding_mask", "memory_key_padding")
	if err != nil {
		return err
	}
	mem.Causal = backend.NotCausal // "causal" is the target's self-attention
	opt.Memory = mem
	w, err := r.weights()
	if err != nil {
		return err
	}
	cfg, err := r.layerConfig(tgt.Shape()[2], "")
	if err != nil {
		return err
	}
	layer, err := model.LoadDecoderLayer(r.be, cfg, w, "")
	if err != nil {
		return err
	}
	r.closers = append(r.closers, layer)
	out, err := layer.Forward(tgt, memory, opt)
	if err != nil {
		return err
	}
	if err := r.compare("out", "out", r.own(out), 0); err != nil {
		return err
	}
	outUnfused, selfW, crossW, err := layer.ForwardWithWeights(tgt, memory, opt)
	if err != nil {
		return err
	}
	r.own(selfW)
	r.own(crossW)
	return r.compare("out (unfused)", "out", r.own(outUnfused), 0)
}

// posenc computes the sinusoidal table [max_len, d_model] (shape from out_f64).
func (r *runner) posenc() error {
	ref, err := r.tensor("out_f64", 2)
	if err != nil {
		return err
	}
	if err := r.checkAllUsed(); err != nil {
		return err
	}
	for i, key := range []string{"max_len", "d_model"} {
		if n, err := r.intOpt(key, ref.Shape[i]); err != nil || n != ref.Shape[i] {
			return fmt.Errorf("metadata %s = %q does not match out_f64 %v (%v)", key, r.f.Metadata[key], backend.Shape(ref.Shape), err)
		}
	}
	pe, err := model.NewPositionalEncoding(r.be, ref.Shape[1])
	if err != nil {
		return err
	}
	table, err := pe.Table(ref.Shape[0], 0)
	if err != nil {
		return err
	}
	return r.compare("out", "out", r.own(table), 0)
}
