package golden

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// sdpa runs softmax(scale*q*k^T + masks)*v on q [B, H, Sq, D] and k, v
// [B, Hkv, Sk, D] (heads_kv, grouped-query; kv_dtype f16 uploads them as halves)
// twice: fused (out) and unfused (out (unfused), attn_weights). causal_align
// and a mask of any mask_shape follow the metadata.
func (r *runner) sdpa() error {
	var hs [3]backend.Heads
	var maxV float64
	kvType := r.File.Metadata["kv_dtype"]
	for i, name := range []string{"q", "k", "v"} {
		t, err := r.tensor(name, 4)
		if err != nil {
			return err
		}
		upload := r.upload
		if name != "q" && kvType != "" {
			upload = r.uploadHalf(kvType)
		}
		bt, err := upload(t)
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
	hkv, err := r.Int("heads_kv", q.Heads)
	if err != nil {
		return err
	}
	if k.Heads != hkv || v.Heads != hkv {
		return fmt.Errorf("metadata heads_kv = %d, but k is %s and v is %s", hkv, k.Dims(), v.Dims())
	}
	opt, err := r.boolPaddingMasks("attn_mask", "key_padding_mask", "key_padding")
	if err != nil {
		return err
	}
	if m := r.File.Metadata["mask"]; m != "" && opt.Mask == nil {
		return fmt.Errorf("metadata mask = %q but the file has no attn_mask", m)
	}
	if err := r.checkMaskShape(opt.Mask, q, k); err != nil {
		return err
	}
	scale, err := r.Float("scale", 0)
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

// uploadHalf returns an upload for the K/V tensors of a case whose metadata
// says kv_dtype: their half-precision values go to the device as such, so the
// backend computes with the very halves PyTorch's reference used.
func (r *runner) uploadHalf(kvType string) func(*safetensors.Tensor) (backend.Tensor, error) {
	return func(t *safetensors.Tensor) (backend.Tensor, error) {
		d, err := backend.ParseDType(kvType)
		if err != nil || d != backend.Float16 {
			return nil, fmt.Errorf("metadata kv_dtype = %q, want f16", kvType)
		}
		if t.DType != safetensors.F16 {
			return nil, fmt.Errorf("metadata kv_dtype = f16 but %s is %s", t.Name, t.DType)
		}
		bits := make([]uint16, t.Numel())
		for i := range bits {
			bits[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
		}
		bt, err := r.be.UploadBits(backend.Float16, bits, t.Shape...)
		if err != nil {
			return nil, fmt.Errorf("uploading %q: %w", t.Name, err)
		}
		return r.own(bt), nil
	}
}

// checkMaskShape verifies the metadata mask_shape (qk, b1qk, 11qk or bhqk)
// against the mask tensor; the backend itself broadcasts any accepted form.
func (r *runner) checkMaskShape(mask backend.Tensor, q, k backend.Heads) error {
	form, ok := r.File.Metadata["mask_shape"]
	if !ok {
		return nil
	}
	if mask == nil {
		return fmt.Errorf("metadata mask_shape = %q but the file has no attn_mask", form)
	}
	want := map[string]backend.Shape{
		"qk":   {q.Seq, k.Seq},
		"b1qk": {q.Batch, 1, q.Seq, k.Seq},
		"11qk": {1, 1, q.Seq, k.Seq},
		"bhqk": {q.Batch, q.Heads, q.Seq, k.Seq},
	}[form]
	if want == nil {
		return fmt.Errorf("metadata mask_shape = %q, want qk, b1qk, 11qk or bhqk", form)
	}
	if s := mask.Shape(); !s.Equal(want) {
		return fmt.Errorf("metadata mask_shape = %s, but attn_mask is %v (want %v)", form, s, want)
	}
	return nil
}

// compareWeights checks attention weights where the file has a reference.
func (r *runner) compareWeights(w backend.Tensor) error {
	if r.File.Tensor("attn_weights_f64") == nil {
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
	h, err := r.Int("heads", 0)
	if err == nil && h <= 0 {
		err = fmt.Errorf("metadata heads = %q, want a positive integer", r.File.Metadata["heads"])
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

// mha runs nn.MultiheadAttention on query q and key = value = kv, or on
// distinct key k and value v.
func (r *runner) mha() error {
	qt, err := r.tensor("q", 3)
	if err != nil {
		return err
	}
	query, err := r.upload(qt)
	if err != nil {
		return err
	}
	separate, err := r.Bool("separate_kv", false)
	if err != nil {
		return err
	}
	var key, value backend.Tensor
	if kvt := r.File.Tensor("kv"); kvt != nil && !separate {
		r.used["kv"] = true
		key = query // self-attention: one packed QKV GEMM
		if !sameData(qt, kvt) {
			if key, err = r.upload(kvt); err != nil {
				return err
			}
		}
		value = key
	} else {
		for _, v := range []struct {
			name string
			dst  *backend.Tensor
		}{{"k", &key}, {"v", &value}} {
			t, err := r.tensor(v.name, 3)
			if err != nil {
				return err
			}
			if *v.dst, err = r.upload(t); err != nil {
				return err
			}
		}
	}
	cfg := model.MHAConfig{DModel: qt.Shape[2], KDim: key.Shape()[2], VDim: value.Shape()[2]}
	for _, o := range []struct {
		key  string
		dims int
	}{{"kdim", cfg.KDim}, {"vdim", cfg.VDim}} {
		if n, err := r.Int(o.key, o.dims); err != nil || n != o.dims {
			return fmt.Errorf("metadata %s = %q does not match the inputs (%d) %v", o.key, r.File.Metadata[o.key], o.dims, err)
		}
	}
	if cfg.Heads, err = r.heads(); err != nil {
		return err
	}
	if cfg.Layout, err = r.Layout(); err != nil {
		return err
	}
	bias, err := r.Bool("bias", true)
	if err != nil {
		return err
	}
	cfg.NoBias = !bias
	if cfg.AddBiasKV, err = r.Bool("add_bias_kv", false); err != nil {
		return err
	}
	if cfg.AddZeroAttn, err = r.Bool("add_zero_attn", false); err != nil {
		return err
	}
	opt, err := r.masks("attn_mask", "key_padding_mask", "key_padding")
	if err != nil {
		return err
	}
	if opt.AverageWeights, err = r.Bool("average_weights", false); err != nil {
		return err
	}
	if _, err := r.paddingKind(opt); err != nil {
		return err
	}
	w, err := r.weights()
	if err != nil {
		return err
	}
	if err := onlyUnder(w, "self_attn."); err != nil {
		return err
	}
	m, err := model.LoadMultiHeadAttention(r.be, cfg, w, "self_attn.")
	if err != nil {
		return err
	}
	r.closers = append(r.closers, m)
	out, _, err := m.Attend(query, key, value, opt)
	if err != nil {
		return err
	}
	if err := r.compare("out", "out", r.own(out), 0); err != nil {
		return err
	}
	opt.NeedWeights = true
	outUnfused, weights, err := m.Attend(query, key, value, opt)
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

// loadModel inspects and loads the layer, stack or transformer of the case
// (model.Inspect with Case.LoadOptions; the metadata must give heads).
func (r *runner) loadModel() (*model.Model, error) {
	if _, err := r.heads(); err != nil {
		return nil, err
	}
	opt, err := r.LoadOptions()
	if err != nil {
		return nil, err
	}
	w, err := r.weights()
	if err != nil {
		return nil, err
	}
	spec, err := model.Inspect(r.Kind, w, opt)
	if err != nil {
		return nil, err
	}
	m, err := spec.Load(r.be, w)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, m)
	return m, nil
}

// compareModel compares the fused and the unfused output of a loaded model on in.
func (r *runner) compareModel(m *model.Model, in model.Inputs) error {
	return r.compareBoth(func() (backend.Tensor, error) { return m.Forward(in) },
		func() (backend.Tensor, []backend.Tensor, error) {
			out, ws, err := m.ForwardWithWeights(in)
			return out, ws.All(), err
		})
}

// paddingKind is the kind of every key padding mask in opts (a model call
// reads them all as one kind), checked against the metadata key_padding_float
// (additive key padding masks; absent: boolean ones).
func (r *runner) paddingKind(opts ...model.MHAOptions) (backend.MaskKind, error) {
	additive, err := r.Bool("key_padding_float", false)
	if err != nil {
		return backend.MaskBool, err
	}
	kind, err := model.KeyPaddingKindOf(opts...)
	if err != nil {
		return kind, err
	}
	if padded := slices.ContainsFunc(opts, func(o model.MHAOptions) bool { return o.KeyPadding != nil }); additive != (padded && kind == backend.MaskAdditive) {
		return kind, fmt.Errorf("metadata key_padding_float = %v but the file's key padding masks do not say so", additive)
	}
	return kind, nil
}

// boolPaddingMasks reads masks for a kind that takes boolean key padding
// masks only (sdpa).
func (r *runner) boolPaddingMasks(maskName, paddingName, paddingFlag string) (backend.AttentionOptions, error) {
	opt, err := r.masks(maskName, paddingName, paddingFlag)
	if err == nil && opt.KeyPadding != nil && opt.KeyPaddingKind != backend.MaskBool {
		err = fmt.Errorf("%s is additive: kind %s takes boolean key padding masks only", paddingName, r.Kind)
	}
	return opt.AttentionOptions, err
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
	kind, err := r.paddingKind(masks)
	if err != nil {
		return err
	}
	m, err := r.loadModel()
	if err != nil {
		return err
	}
	return r.compareModel(m, model.Inputs{Src: x, SrcMasks: masks.AttentionOptions, KeyPaddingKind: kind})
}

// compareBoth compares the fused and the unfused output of a module with out_f64.
func (r *runner) compareBoth(fused func() (backend.Tensor, error), unfused func() (backend.Tensor, []backend.Tensor, error)) error {
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

// decoderMasks reads the masks of a decoder: tgt_* for the self-attention
// ("causal" is its flag) and memory_* for the cross-attention.
func (r *runner) decoderMasks() (self, memory model.MHAOptions, err error) {
	if self, err = r.masks("tgt_mask", "tgt_key_padding_mask", "tgt_key_padding"); err != nil {
		return self, memory, err
	}
	if memory, err = r.masks("memory_mask", "memory_key_padding_mask", "memory_key_padding"); err != nil {
		return self, memory, err
	}
	memory.Causal = backend.NotCausal // "causal" is the target's self-attention
	return self, memory, nil
}

// decoder runs one nn.TransformerDecoderLayer, or a nn.TransformerDecoder
// stack where the weights are named layers.N.*.
func (r *runner) decoder() error {
	tgt, err := r.input("tgt")
	if err != nil {
		return err
	}
	memory, err := r.input("memory")
	if err != nil {
		return err
	}
	self, cross, err := r.decoderMasks()
	if err != nil {
		return err
	}
	kind, err := r.paddingKind(self, cross)
	if err != nil {
		return err
	}
	m, err := r.loadModel()
	if err != nil {
		return err
	}
	return r.compareModel(m, model.Inputs{Tgt: tgt, Memory: memory, TgtMasks: self.AttentionOptions,
		MemoryMasks: cross.AttentionOptions, KeyPaddingKind: kind})
}

// transformer runs nn.Transformer: the fused path through its Forward, the
// unfused one through its two stacks' ForwardWithWeights.
func (r *runner) transformer() error {
	src, err := r.input("src")
	if err != nil {
		return err
	}
	tgt, err := r.input("tgt")
	if err != nil {
		return err
	}
	srcMasks, err := r.masks("src_mask", "src_key_padding_mask", "src_key_padding")
	if err != nil {
		return err
	}
	srcMasks.Causal = backend.NotCausal
	self, cross, err := r.decoderMasks()
	if err != nil {
		return err
	}
	if cross.KeyPadding == nil {
		cross.KeyPadding, cross.KeyPaddingKind = srcMasks.KeyPadding, srcMasks.KeyPaddingKind // the cases pass src_key_padding_mask as both
	}
	kind, err := r.paddingKind(srcMasks, self, cross)
	if err != nil {
		return err
	}
	in := model.Inputs{Src: src, Tgt: tgt, SrcMasks: srcMasks.AttentionOptions, TgtMasks: self.AttentionOptions,
		MemoryMasks: cross.AttentionOptions, KeyPaddingKind: kind}
	m, err := r.loadModel()
	if err != nil {
		return err
	}
	return r.compareModel(m, in)
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
		if n, err := r.Int(key, ref.Shape[i]); err != nil || n != ref.Shape[i] {
			return fmt.Errorf("metadata %s = %q does not match out_f64 %v (%v)", key, r.File.Metadata[key], backend.Shape(ref.Shape), err)
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
