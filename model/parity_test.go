package model_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// onBackends runs f on the CPU backend and on an OpenCL device.
func onBackends(t *testing.T, f func(t *testing.T, be backend.Backend)) {
	t.Run("cpu", func(t *testing.T) {
		be := cpuref.New()
		defer be.Close()
		f(t, be)
	})
	t.Run("opencl", func(t *testing.T) { f(t, gputest.Device(t)) })
}

// transpose01 swaps the first two dimensions of a rank-3 row-major array.
func transpose01(x []float32, d0, d1, d2 int) []float32 {
	out := make([]float32, len(x))
	for i := range d0 {
		for j := range d1 {
			copy(out[(j*d0+i)*d2:][:d2], x[(i*d1+j)*d2:][:d2])
		}
	}
	return out
}

// uploadData uploads data with the given shape, released when the test ends.
func uploadData(t *testing.T, be backend.Backend, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := be.Upload(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Release() })
	return x
}

// randomData is n uniform values in [-1, 1).
func randomData(rng *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = 2*rng.Float32() - 1
	}
	return d
}

// pair is one [B, S, E] input uploaded batch-first and seq-first.
type pair struct{ bf, sf backend.Tensor }

func uploadPair(t *testing.T, be backend.Backend, rng *rand.Rand, b, s, e int) (pair, []float32) {
	data := randomData(rng, b*s*e)
	return pair{uploadData(t, be, data, b, s, e), uploadData(t, be, transpose01(data, b, s, e), s, b, e)}, data
}

// checkSeqFirst compares a seq-first output [S, B, E] with the batch-first one.
func checkSeqFirst(t *testing.T, be backend.Backend, what string, bf, sf backend.Tensor) {
	t.Helper()
	defer bf.Release()
	defer sf.Release()
	s := bf.Shape()
	if want := (backend.Shape{s[1], s[0], s[2]}); !sf.Shape().Equal(want) {
		t.Fatalf("%s: seq-first output is %v, want %v", what, sf.Shape(), want)
	}
	want := download(t, be, bf)
	got := transpose01(download(t, be, sf), s[1], s[0], s[2])
	if d := maxDiff(got, want); d > 1e-6 {
		t.Errorf("%s: seq-first and batch-first outputs differ by %g", what, d)
	}
}

// mhaWeights are nn.MultiheadAttention weights for cfg (separate projections
// where kdim or vdim differ from E, bias_k/bias_v with AddBiasKV).
func mhaWeights(rng *rand.Rand, cfg model.MHAConfig) []*safetensors.Tensor {
	e := cfg.DModel
	kd, vd := max(cfg.KDim, 0), max(cfg.VDim, 0)
	if kd == 0 {
		kd = e
	}
	if vd == 0 {
		vd = e
	}
	s := float32(1 / math.Sqrt(float64(e)))
	var ts []*safetensors.Tensor
	if kd == e && vd == e {
		ts = append(ts, randomTensor(rng, "in_proj_weight", s, 3*e, e))
	} else {
		ts = append(ts, randomTensor(rng, "q_proj_weight", s, e, e), randomTensor(rng, "k_proj_weight", s, e, kd),
			randomTensor(rng, "v_proj_weight", s, e, vd))
	}
	ts = append(ts, randomTensor(rng, "out_proj.weight", s, e, e))
	if !cfg.NoBias {
		ts = append(ts, randomTensor(rng, "in_proj_bias", 0.1, 3*e), randomTensor(rng, "out_proj.bias", 0.1, e))
	}
	if cfg.AddBiasKV {
		ts = append(ts, randomTensor(rng, "bias_k", 1, 1, 1, e), randomTensor(rng, "bias_v", 1, 1, 1, e))
	}
	return ts
}

// TestSeqFirst checks that every module given [S, B, E] inputs with SeqFirst
// returns the batch-first answer transposed, and leaves its inputs unchanged.
func TestSeqFirst(t *testing.T) {
	onBackends(t, func(t *testing.T, be backend.Backend) {
		const b, sq, sk, e, ff = 3, 5, 7, 12, 20
		rng := rand.New(rand.NewPCG(31, 32))
		for _, cfg := range []model.MHAConfig{
			{DModel: e, Heads: 3},
			{DModel: e, Heads: 2, KDim: 5, VDim: 9, AddBiasKV: true, AddZeroAttn: true},
			{DModel: e, Heads: 4, AddZeroAttn: true, NoBias: true},
		} {
			w := mustWeights(t, mhaWeights(rng, cfg))
			sfCfg := cfg
			sfCfg.Layout = model.SeqFirst
			mb, err := model.LoadMultiHeadAttention(be, cfg, w, "")
			if err != nil {
				t.Fatal(err)
			}
			defer mb.Close()
			ms, err := model.LoadMultiHeadAttention(be, sfCfg, w, "")
			if err != nil {
				t.Fatal(err)
			}
			defer ms.Close()
			kd, vd := max(cfg.KDim, e), max(cfg.VDim, e)
			if cfg.KDim != 0 {
				kd, vd = cfg.KDim, cfg.VDim
			}
			q, qData := uploadPair(t, be, rng, b, sq, e)
			k, _ := uploadPair(t, be, rng, b, sk, kd)
			v, _ := uploadPair(t, be, rng, b, sk, vd)
			kp := uploadData(t, be, []float32{0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1}, b, sk)
			opt := model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: kp}}
			for _, need := range []bool{false, true} {
				opt.NeedWeights = need
				ob, wb, err := mb.Attend(q.bf, k.bf, v.bf, opt)
				if err != nil {
					t.Fatal(err)
				}
				os, ws, err := ms.Attend(q.sf, k.sf, v.sf, opt)
				if err != nil {
					t.Fatal(err)
				}
				checkSeqFirst(t, be, fmt.Sprintf("MHA %+v weights=%v", cfg, need), ob, os)
				if need {
					if d := maxDiff(download(t, be, wb), download(t, be, ws)); d > 1e-6 {
						t.Errorf("MHA %+v: attention weights differ by %g", cfg, d)
					}
					wb.Release()
					ws.Release()
				}
			}
			if got := download(t, be, q.bf); maxDiff(got, qData) != 0 {
				t.Errorf("MHA changed its query input")
			}
		}

		layer := model.LayerConfig{DModel: e, Heads: 3, DFF: ff, Activation: backend.GELU, NormFirst: true}
		sfLayer := layer
		sfLayer.Layout = model.SeqFirst
		var encW, decW []*safetensors.Tensor
		for i := range 2 {
			encW = append(encW, layerTensors(rng, fmt.Sprintf("encoder.layers.%d.", i), e, ff, false)...)
			decW = append(decW, layerTensors(rng, fmt.Sprintf("decoder.layers.%d.", i), e, ff, true)...)
		}
		for _, p := range []string{"encoder.norm.", "decoder.norm."} {
			encW = append(encW, randomTensor(rng, p+"weight", 1, e), randomTensor(rng, p+"bias", 0.1, e))
		}
		w := mustWeights(t, append(encW, decW...))
		tcfg := model.TransformerConfig{Layer: layer, EncoderLayers: 2, DecoderLayers: 2}
		tb, err := model.LoadTransformer(be, tcfg, w, "")
		if err != nil {
			t.Fatal(err)
		}
		defer tb.Close()
		tcfg.Layer = sfLayer
		ts, err := model.LoadTransformer(be, tcfg, w, "")
		if err != nil {
			t.Fatal(err)
		}
		defer ts.Close()
		src, srcData := uploadPair(t, be, rng, b, sk, e)
		tgt, _ := uploadPair(t, be, rng, b, sq, e)
		kp := uploadData(t, be, []float32{0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}, b, sk)
		opt := model.TransformerOptions{Src: backend.AttentionOptions{KeyPadding: kp},
			Tgt: backend.AttentionOptions{Causal: backend.CausalTopLeft}, Memory: backend.AttentionOptions{KeyPadding: kp}}
		ob, err := tb.Forward(src.bf, tgt.bf, opt)
		if err != nil {
			t.Fatal(err)
		}
		os, err := ts.Forward(src.sf, tgt.sf, opt)
		if err != nil {
			t.Fatal(err)
		}
		checkSeqFirst(t, be, "Transformer", ob, os)
		if got := download(t, be, src.bf); maxDiff(got, srcData) != 0 {
			t.Errorf("Transformer changed its src input")
		}
	})
}

// TestTransformerIsEncoderThenDecoder checks Transformer.Forward against its
// two stacks run one after the other, and the layer accessors.
func TestTransformerIsEncoderThenDecoder(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(41, 42))
	const b, ss, st, e, ff = 2, 6, 4, 8, 16
	var ts []*safetensors.Tensor
	for i := range 3 {
		ts = append(ts, layerTensors(rng, fmt.Sprintf("encoder.layers.%d.", i), e, ff, false)...)
	}
	ts = append(ts, layerTensors(rng, "decoder.layers.0.", e, ff, true)...)
	for _, p := range []string{"encoder.norm.", "decoder.norm."} {
		ts = append(ts, randomTensor(rng, p+"weight", 1, e), randomTensor(rng, p+"bias", 0.1, e))
	}
	cfg := model.TransformerConfig{Layer: model.LayerConfig{DModel: e, Heads: 2, DFF: ff, Activation: backend.ReLU, Eps: 1e-3},
		EncoderLayers: 3, DecoderLayers: 1}
	tr, err := model.LoadTransformer(be, cfg, mustWeights(t, ts), "")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Encoder().Layer(2) == nil || tr.Decoder().Layer(1) != nil || tr.Config() != cfg {
		t.Fatal("stacks or config not kept")
	}
	src, tgt := upload(t, be, rng, b, ss, e), upload(t, be, rng, b, st, e)
	opt := model.TransformerOptions{Tgt: backend.AttentionOptions{Causal: backend.CausalTopLeft}}
	out, err := tr.Forward(src, tgt, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	mem, err := tr.Encoder().Forward(src, model.EncoderOptions{AttentionOptions: opt.Src})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Release()
	want, err := tr.Decoder().Forward(tgt, mem, model.DecoderOptions{Self: opt.Tgt})
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	if d := maxDiff(download(t, be, out), download(t, be, want)); d != 0 {
		t.Errorf("Transformer.Forward differs from its stacks by %g", d)
	}
	_, err = tr.Forward(upload(t, be, rng, 3, ss, e), tgt, opt)
	wantError(t, err, backend.ErrShape, "tgt is [2 4 8] and src is [3 6 8]", "batch sizes differ")
	_, err = model.LoadTransformer(be, model.TransformerConfig{Layer: cfg.Layer, EncoderLayers: 3}, mustWeights(t, ts), "")
	wantError(t, err, backend.ErrArgument, "0 layers")
}

// TestLayerAdditiveKeyPadding checks that the Transformer reads its key padding
// masks as KeyPaddingKind says: additive key padding masks (0, -Inf and finite
// offsets, on src, tgt and memory) give the answer of the same values passed as
// additive attention masks whose every row is the key padding row (batch 1, so
// that one [Sq, Sk] mask is the whole key padding), and its inputs and masks
// are left unchanged.
func TestLayerAdditiveKeyPadding(t *testing.T) {
	onBackends(t, func(t *testing.T, be backend.Backend) {
		const ss, st, e, ff = 5, 4, 8, 16
		rng := rand.New(rand.NewPCG(131, 132))
		var ts []*safetensors.Tensor
		for i := range 2 {
			ts = append(ts, layerTensors(rng, fmt.Sprintf("encoder.layers.%d.", i), e, ff, false)...)
		}
		ts = append(ts, layerTensors(rng, "decoder.layers.0.", e, ff, true)...)
		for _, p := range []string{"encoder.norm.", "decoder.norm."} {
			ts = append(ts, randomTensor(rng, p+"weight", 1, e), randomTensor(rng, p+"bias", 0.1, e))
		}
		tr, err := model.LoadTransformer(be, model.TransformerConfig{Layer: model.LayerConfig{DModel: e, Heads: 2, DFF: ff,
			Activation: backend.ReLU}, EncoderLayers: 2, DecoderLayers: 1}, mustWeights(t, ts), "")
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		inf := float32(math.Inf(-1))
		srcKP := []float32{0, -1.5, inf, 0.75, inf}
		tgtKP := []float32{-0.5, 0, inf, 2}
		rows := func(kp []float32, n int) backend.Tensor {
			var d []float32
			for range n {
				d = append(d, kp...)
			}
			return uploadData(t, be, d, n, len(kp))
		}
		srcData, tgtData := randomData(rng, ss*e), randomData(rng, st*e)
		src, tgt := uploadData(t, be, srcData, 1, ss, e), uploadData(t, be, tgtData, 1, st, e)
		srcPad, tgtPad := uploadData(t, be, srcKP, 1, ss), uploadData(t, be, tgtKP, 1, st)
		causal := backend.CausalTopLeft
		got, err := tr.Forward(src, tgt, model.TransformerOptions{
			Src:            backend.AttentionOptions{KeyPadding: srcPad},
			Tgt:            backend.AttentionOptions{Causal: causal, KeyPadding: tgtPad},
			Memory:         backend.AttentionOptions{KeyPadding: srcPad},
			KeyPaddingKind: backend.MaskAdditive,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer got.Release()
		add := backend.MaskAdditive
		want, err := tr.Forward(src, tgt, model.TransformerOptions{
			Src:    backend.AttentionOptions{Mask: rows(srcKP, ss), MaskKind: add},
			Tgt:    backend.AttentionOptions{Causal: causal, Mask: rows(tgtKP, st), MaskKind: add},
			Memory: backend.AttentionOptions{Mask: rows(srcKP, st), MaskKind: add},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer want.Release()
		g, w := download(t, be, got), download(t, be, want)
		if d := maxDiff(g, w); hasNaN(g) || !(d <= 1e-6) {
			t.Errorf("additive key padding differs from the same values as attention masks by %g", d)
		}
		for _, c := range []struct {
			name string
			x    backend.Tensor
			data []float32
		}{{"src", src, srcData}, {"tgt", tgt, tgtData}, {"src_key_padding_mask", srcPad, srcKP}, {"tgt_key_padding_mask", tgtPad, tgtKP}} {
			if !slices.Equal(download(t, be, c.x), c.data) {
				t.Errorf("Transformer changed its %s", c.name)
			}
		}
		// Read as boolean (the default), the same masks pad every nonzero key.
		boolOut, err := tr.Forward(src, tgt, model.TransformerOptions{Src: backend.AttentionOptions{KeyPadding: srcPad}})
		if err != nil {
			t.Fatal(err)
		}
		defer boolOut.Release()
		if d := maxDiff(download(t, be, boolOut), g); d < 1e-3 {
			t.Errorf("boolean and additive key padding agree (%g): the kind is not passed on", d)
		}
		_, err = tr.Forward(src, tgt, model.TransformerOptions{Src: backend.AttentionOptions{KeyPadding: srcPad}, KeyPaddingKind: 5})
		wantError(t, err, backend.ErrArgument, "unknown key padding mask kind 5")
	})
}

// TestKeyPaddingKindOf checks the one kind of a call's key padding masks.
func TestKeyPaddingKindOf(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	kp := uploadData(t, be, []float32{0, 1}, 1, 2)
	boolean := model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: kp}}
	additive := boolean
	additive.KeyPaddingKind = backend.MaskAdditive
	noPadding := model.MHAOptions{KeyPaddingKind: backend.MaskAdditive} // no mask: its kind does not count
	for _, c := range []struct {
		opts []model.MHAOptions
		want backend.MaskKind
	}{{nil, backend.MaskBool}, {[]model.MHAOptions{noPadding}, backend.MaskBool}, {[]model.MHAOptions{boolean, noPadding, boolean}, backend.MaskBool},
		{[]model.MHAOptions{noPadding, additive, additive}, backend.MaskAdditive}} {
		if got, err := model.KeyPaddingKindOf(c.opts...); err != nil || got != c.want {
			t.Errorf("KeyPaddingKindOf(%d options) = %v, %v; want %v", len(c.opts), got, err, c.want)
		}
	}
	_, err := model.KeyPaddingKindOf(boolean, noPadding, additive)
	wantError(t, err, backend.ErrArgument, "key padding masks of two kinds (bool and additive)")
}

// TestMaskForms checks that the mask forms PyTorch accepts give the same
// answer as the equivalent [B, H, Sq, Sk] mask: a [B*H, Sq, Sk] mask, an
// additive key padding mask alone and merged with an additive attn_mask.
func TestMaskForms(t *testing.T) {
	onBackends(t, func(t *testing.T, be backend.Backend) {
		const b, h, sq, sk, e = 2, 3, 4, 6, 12
		rng := rand.New(rand.NewPCG(51, 52))
		m, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: h}, mustWeights(t, mhaTensors(rng, "", e)), "")
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		q, kv := upload(t, be, rng, b, sq, e), upload(t, be, rng, b, sk, e)
		inf := float32(math.Inf(-1))
		bool4 := make([]float32, b*h*sq*sk)
		add2 := make([]float32, sq*sk)
		for i := range bool4 {
			if rng.Float32() < 0.3 && i%sk != 0 {
				bool4[i] = 1
			}
		}
		for i := range add2 {
			add2[i] = rng.Float32() - 0.5
			if rng.Float32() < 0.2 && i%sk != 1 {
				add2[i] = inf
			}
		}
		kpAdd := []float32{0.5, 0, inf, -1, 0, inf, 0, 0, 0, 0.25, inf, inf}
		kpBool := make([]float32, len(kpAdd))
		merged := make([]float32, b*h*sq*sk) // add2 + kpAdd broadcast
		for bi := range b {
			for hi := range h {
				for i := range sq {
					for j := range sk {
						merged[((bi*h+hi)*sq+i)*sk+j] = add2[i*sk+j] + kpAdd[bi*sk+j]
					}
				}
			}
		}
		kpOnly := make([]float32, b*h*sq*sk) // kpAdd broadcast
		for i := range kpOnly {
			bi, j := i/(h*sq*sk), i%sk
			kpOnly[i] = kpAdd[bi*sk+j]
		}
		for i, v := range kpAdd {
			if v == inf {
				kpBool[i] = 1
			}
		}
		run := func(opt model.MHAOptions) ([]float32, []float32) {
			opt.NeedWeights = true
			out, w, err := m.Attend(q, kv, kv, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Release()
			defer w.Release()
			return download(t, be, out), download(t, be, w)
		}
		mask := func(kind backend.MaskKind, data []float32, shape ...int) backend.AttentionOptions {
			return backend.AttentionOptions{Mask: uploadData(t, be, data, shape...), MaskKind: kind}
		}
		for _, c := range []struct {
			name      string
			got, want model.MHAOptions
		}{
			{"bool [B*H Sq Sk]", model.MHAOptions{AttentionOptions: mask(backend.MaskBool, bool4, b*h, sq, sk)},
				model.MHAOptions{AttentionOptions: mask(backend.MaskBool, bool4, b, h, sq, sk)}},
			{"additive key padding", model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: uploadData(t, be, kpAdd, b, sk)},
				KeyPaddingKind: backend.MaskAdditive},
				model.MHAOptions{AttentionOptions: mask(backend.MaskAdditive, kpOnly, b, h, sq, sk)}},
			{"additive key padding + additive mask", model.MHAOptions{AttentionOptions: backend.AttentionOptions{
				Mask: uploadData(t, be, add2, sq, sk), MaskKind: backend.MaskAdditive, KeyPadding: uploadData(t, be, kpAdd, b, sk)},
				KeyPaddingKind: backend.MaskAdditive},
				model.MHAOptions{AttentionOptions: mask(backend.MaskAdditive, merged, b, h, sq, sk)}},
		} {
			gotOut, gotW := run(c.got)
			wantOut, wantW := run(c.want)
			if d := maxDiff(gotOut, wantOut); d != 0 || hasNaN(gotOut) {
				t.Errorf("%s: output differs by %g", c.name, d)
			}
			if d := maxDiff(gotW, wantW); d != 0 {
				t.Errorf("%s: weights differ by %g", c.name, d)
			}
		}
		// -Inf/0 additive key padding is the boolean one.
		gotOut, _ := run(model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: uploadData(t, be, kpOnlyInf(kpAdd), b, sk)},
			KeyPaddingKind: backend.MaskAdditive})
		wantOut, _ := run(model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: uploadData(t, be, kpBool, b, sk)}})
		if d := maxDiff(gotOut, wantOut); d > 1e-6 {
			t.Errorf("additive -inf key padding differs from the boolean one by %g", d)
		}
	})
}

// kpOnlyInf keeps the -Inf entries of an additive mask and zeros the rest.
func kpOnlyInf(kp []float32) []float32 {
	out := make([]float32, len(kp))
	for i, v := range kp {
		if math.IsInf(float64(v), -1) {
			out[i] = v
		}
	}
	return out
}

func hasNaN(x []float32) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

// TestExtraKeys checks add_bias_kv and add_zero_attn where the answer is known:
// with every real key masked, a query attends only to the appended keys, so
// with the zero key alone its attention output is 0 and the block returns
// out_proj.bias, and the weights put 1 on the zero key. The masks are padded
// as PyTorch pads them (the appended keys are never masked), in every form.
func TestExtraKeys(t *testing.T) {
	onBackends(t, func(t *testing.T, be backend.Backend) {
		const b, h, sq, sk, e = 2, 2, 3, 5, 8
		rng := rand.New(rand.NewPCG(61, 62))
		cfg := model.MHAConfig{DModel: e, Heads: h, AddZeroAttn: true}
		ws := mhaWeights(rng, cfg)
		m, err := model.LoadMultiHeadAttention(be, cfg, mustWeights(t, ws), "")
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		outBias, err := ws[len(ws)-1].Float32s()
		if err != nil || ws[len(ws)-1].Name != "out_proj.bias" {
			t.Fatalf("weights out of order: %v", err)
		}
		q, kv := upload(t, be, rng, b, sq, e), upload(t, be, rng, b, sk, e)
		ones := func(n int) []float32 {
			d := make([]float32, n)
			for i := range d {
				d[i] = 1
			}
			return d
		}
		inf := make([]float32, sq*sk)
		for i := range inf {
			inf[i] = float32(math.Inf(-1))
		}
		for _, c := range []struct {
			name string
			opt  model.MHAOptions
		}{
			{"bool [Sq Sk]", model.MHAOptions{AttentionOptions: backend.AttentionOptions{Mask: uploadData(t, be, ones(sq*sk), sq, sk)}}},
			{"bool [B*H Sq Sk]", model.MHAOptions{AttentionOptions: backend.AttentionOptions{Mask: uploadData(t, be, ones(b*h*sq*sk), b*h, sq, sk)}}},
			{"additive [Sq Sk]", model.MHAOptions{AttentionOptions: backend.AttentionOptions{Mask: uploadData(t, be, inf, sq, sk), MaskKind: backend.MaskAdditive}}},
			{"bool key padding", model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: uploadData(t, be, ones(b*sk), b, sk)}}},
			{"additive key padding", model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: uploadData(t, be, inf[:b*sk], b, sk)},
				KeyPaddingKind: backend.MaskAdditive}},
		} {
			for _, avg := range []bool{false, true} {
				opt := c.opt
				opt.NeedWeights, opt.AverageWeights = true, avg
				out, w, err := m.Attend(q, kv, nil, opt)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				got, weights := download(t, be, out), download(t, be, w)
				out.Release()
				w.Release()
				for i, v := range got {
					if v != outBias[i%e] {
						t.Fatalf("%s: out[%d] = %g, want out_proj.bias %g", c.name, i, v, outBias[i%e])
					}
				}
				wantShape := backend.Shape{b, h, sq, sk + 1}
				if avg {
					wantShape = backend.Shape{b, sq, sk + 1}
				}
				if !w.Shape().Equal(wantShape) {
					t.Fatalf("%s: weights are %v, want %v", c.name, w.Shape(), wantShape)
				}
				for i, v := range weights {
					want := float32(0)
					if i%(sk+1) == sk {
						want = 1
					}
					if v != want {
						t.Fatalf("%s (average %v): weight %d = %g, want %g", c.name, avg, i, v, want)
					}
				}
			}
		}
		// No real keys at all (Sk = 0): the zero key alone, as in PyTorch.
		out, w, err := m.Attend(q, upload(t, be, rng, b, 0, e), nil, model.MHAOptions{NeedWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		defer w.Release()
		for i, v := range download(t, be, out) {
			if v != outBias[i%e] {
				t.Fatalf("Sk = 0: out[%d] = %g, want out_proj.bias %g", i, v, outBias[i%e])
			}
		}
		if ws := download(t, be, w); !w.Shape().Equal(backend.Shape{b, h, sq, 1}) || maxDiff(ws, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) != 0 {
			t.Errorf("Sk = 0: weights %v %v, want all 1 on the zero key", w.Shape(), ws)
		}
	})
}

// TestParityErrors checks the errors for inputs PyTorch would refuse.
func TestParityErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(71, 72))
	const b, h, sq, sk, e = 2, 2, 3, 4, 8
	cfg := model.MHAConfig{DModel: e, Heads: h, KDim: 6, VDim: 5, AddBiasKV: true}
	ws := mhaWeights(rng, cfg)
	m, err := model.LoadMultiHeadAttention(be, cfg, mustWeights(t, ws), "self_attn.")
	wantError(t, err, model.ErrWeights, "missing self_attn.q_proj_weight [8 8]", "missing self_attn.bias_k [1 1 8]")
	withPrefix := func(ts []*safetensors.Tensor, skip string) []*safetensors.Tensor {
		var out []*safetensors.Tensor
		for _, x := range ts {
			if x.Name != skip {
				y := *x
				y.Name = "self_attn." + x.Name
				out = append(out, &y)
			}
		}
		return out
	}
	_, err = model.LoadMultiHeadAttention(be, cfg, mustWeights(t, withPrefix(ws, "bias_v")), "self_attn.")
	wantError(t, err, model.ErrWeights, "missing self_attn.bias_v [1 1 8]")
	bad := cfg
	bad.KDim = 7
	_, err = model.LoadMultiHeadAttention(be, bad, mustWeights(t, withPrefix(ws, "")), "self_attn.")
	wantError(t, err, model.ErrWeights, "self_attn.k_proj_weight is [8 6], want [8 7]")
	noExtra := cfg
	noExtra.AddBiasKV = false
	_, err = model.LoadMultiHeadAttention(be, noExtra, mustWeights(t, withPrefix(ws, "")), "self_attn.")
	wantError(t, err, model.ErrWeights, "unexpected self_attn.bias_k [1 1 8]")
	_, err = model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: h, KDim: -1}, mustWeights(t, ws), "")
	wantError(t, err, backend.ErrShape, "kdim = -1")
	_, err = model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: h, Layout: 7}, mustWeights(t, ws), "")
	wantError(t, err, backend.ErrArgument, "unknown layout 7")

	m, err = model.LoadMultiHeadAttention(be, cfg, mustWeights(t, withPrefix(ws, "")), "self_attn.")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	q, k, v := upload(t, be, rng, b, sq, e), upload(t, be, rng, b, sk, 6), upload(t, be, rng, b, sk, 5)
	attend := func(key, value backend.Tensor, opt model.MHAOptions) error {
		out, w, err := m.Attend(q, key, value, opt)
		if err == nil {
			out.Release()
			if w != nil {
				w.Release()
			}
		}
		return err
	}
	if err := attend(k, v, model.MHAOptions{}); err != nil {
		t.Fatal(err)
	}
	wantError(t, attend(upload(t, be, rng, b, sk, e), v, model.MHAOptions{}), backend.ErrShape, "key is [2 4 8], want [2 seq 6] (kdim 6)")
	wantError(t, attend(k, upload(t, be, rng, b, sk+1, 5), model.MHAOptions{}), backend.ErrShape, "value is [2 5 5], want [2 4 5] (vdim 5)")
	mask := func(shape ...int) model.MHAOptions {
		return model.MHAOptions{AttentionOptions: backend.AttentionOptions{Mask: upload(t, be, rng, shape...)}}
	}
	for _, shape := range [][]int{{sq, sk + 1}, {b, sq, sk}, {1, sq, sk}, {b, 1, sq, sk}, {sk, sq}} {
		wantError(t, attend(k, v, mask(shape...)), backend.ErrShape,
			fmt.Sprintf("attn_mask is %v, want [3 4] (Sq Sk), [4 3 4] (B*H Sq Sk) or [2 2 3 4] (B H Sq Sk)", backend.Shape(shape)))
	}
	kp := model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: upload(t, be, rng, b, sk+1)}}
	wantError(t, attend(k, v, kp), backend.ErrShape, "key_padding_mask is [2 5], want [2 4] (B Sk)")
	wantError(t, attend(k, v, model.MHAOptions{AttentionOptions: backend.AttentionOptions{Causal: backend.CausalTopLeft}}),
		backend.ErrArgument, "causal flag with add_bias_kv or add_zero_attn")
	mixed := mask(sq, sk)
	mixed.KeyPadding, mixed.KeyPaddingKind = upload(t, be, rng, b, sk), backend.MaskAdditive
	wantError(t, attend(k, v, mixed), backend.ErrArgument, "additive key_padding_mask with a boolean attn_mask")
	wantError(t, attend(k, v, model.MHAOptions{KeyPaddingKind: 5}), backend.ErrArgument, "unknown key padding mask kind 5")

	dec, err := model.LoadDecoder(be, model.DecoderConfig{Layer: model.LayerConfig{DModel: e, Heads: h, DFF: 16, Activation: backend.ReLU}, Layers: 2},
		mustWeights(t, layerTensors(rng, "layers.0.", e, 16, true)), "")
	wantError(t, err, model.ErrWeights, "missing layers.1.multihead_attn.in_proj_weight [24 8]")
	if dec != nil {
		t.Error("a failed load returned a decoder")
	}
	_, err = model.LoadDecoder(be, model.DecoderConfig{Layer: model.LayerConfig{DModel: e, Heads: h, DFF: 16}, Layers: 0}, mustWeights(t, nil), "")
	wantError(t, err, backend.ErrArgument, "0 layers")
}

// TestBoolConventions checks the two boolean mask conventions and the BOOL dtype.
func TestBoolConventions(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	for _, c := range []struct {
		text string
		conv model.BoolConvention
		want []float32
	}{{"masked", model.TrueMasks, []float32{1, 0, 0, 1}}, {"attend", model.TrueAttends, []float32{0, 1, 1, 0}}} {
		conv, err := model.ParseBoolConvention(c.text)
		if err != nil || conv != c.conv || conv.String() != c.text {
			t.Fatalf("ParseBoolConvention(%q) = %v, %v", c.text, conv, err)
		}
		for _, f := range []*safetensors.Tensor{
			safetensors.FromBool("m", []bool{true, false, false, true}, 2, 2),
			safetensors.FromUint8("m", []uint8{1, 0, 0, 7}, 2, 2),
		} {
			m, kind, err := model.UploadMaskAs(be, f, conv)
			if err != nil {
				t.Fatal(err)
			}
			if got := download(t, be, m); kind != backend.MaskBool || maxDiff(got, c.want) != 0 || !m.Shape().Equal(backend.Shape{2, 2}) {
				t.Errorf("%s %s mask: kind %v, %v %v, want %v", c.text, f.DType, kind, m.Shape(), got, c.want)
			}
			m.Release()
		}
	}
	if _, err := model.ParseBoolConvention("true"); err == nil {
		t.Error("ParseBoolConvention accepted \"true\"")
	}
	_, _, err := model.UploadMask(be, safetensors.FromInt64("m", []int64{1}, 1))
	wantError(t, err, nil, `mask "m" has dtype I64, want BOOL or U8 (boolean) or a float type (additive)`)
	_, err = model.UploadBoolMask(be, []bool{true}, 9, 1)
	wantError(t, err, backend.ErrArgument, "unknown boolean mask convention 9")
	_, err = model.UploadBoolMask(nil, []bool{true}, model.TrueMasks, 1)
	wantError(t, err, backend.ErrArgument, "nil backend")
}

// TestParityNoLeaks checks that Close releases every tensor the new modules
// made: the Transformer's stacks and memory, and an attention block's mask
// copies and constant vectors.
func TestParityNoLeaks(t *testing.T) {
	be := &trackingBackend{Backend: cpuref.New()}
	defer be.Close()
	rng := rand.New(rand.NewPCG(81, 82))
	const b, s, e, ff = 2, 5, 8, 16
	var ts []*safetensors.Tensor
	ts = append(ts, layerTensors(rng, "encoder.layers.0.", e, ff, false)...)
	ts = append(ts, layerTensors(rng, "decoder.layers.0.", e, ff, true)...)
	for _, p := range []string{"encoder.norm.", "decoder.norm."} {
		ts = append(ts, randomTensor(rng, p+"weight", 1, e), randomTensor(rng, p+"bias", 0.1, e))
	}
	tr, err := model.LoadTransformer(be, model.TransformerConfig{Layer: model.LayerConfig{DModel: e, Heads: 2, DFF: ff}, EncoderLayers: 1, DecoderLayers: 1},
		mustWeights(t, ts), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.MHAConfig{DModel: e, Heads: 2, AddBiasKV: true, AddZeroAttn: true}
	m, err := model.LoadMultiHeadAttention(be, cfg, mustWeights(t, mhaWeights(rng, cfg)), "")
	if err != nil {
		t.Fatal(err)
	}
	x := upload(t, be, rng, b, s, e)
	kp := upload(t, be, rng, b, s)
	mask := upload(t, be, rng, b*2, s, s)
	for range 2 {
		out, err := tr.Forward(x, x, model.TransformerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out.Release()
		out, w, err := m.Attend(x, x, x, model.MHAOptions{AttentionOptions: backend.AttentionOptions{Mask: mask, MaskKind: backend.MaskAdditive, KeyPadding: kp},
			KeyPaddingKind: backend.MaskAdditive, NeedWeights: true, AverageWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		out.Release()
		w.Release()
	}
	for _, t := range []backend.Tensor{x, kp, mask} {
		t.Release()
	}
	if err := errors.Join(tr.Close(), m.Close(), tr.Close()); err != nil {
		t.Fatal(err)
	}
	if n := be.live(); n != 0 {
		t.Errorf("%d of %d tensors leaked after Close", n, len(be.made))
	}
}

// TestPaddedKeysNaN: NaN in the inputs at keys a boolean key padding mask
// hides never reaches the output, whatever the layout or appended keys: the
// output is that of finite inputs there. (An additive mask is added as
// PyTorch adds it, so a NaN score under an additive -Inf stays NaN.)
func TestPaddedKeysNaN(t *testing.T) {
	onBackends(t, func(t *testing.T, be backend.Backend) {
		const b, sq, sk, e = 2, 3, 5, 8
		rng := rand.New(rand.NewPCG(101, 102))
		pad := []bool{false, false, true, false, true, false, true, true, true, true} // [B, Sk]; batch 1 keeps one key
		nan := float32(math.NaN())
		for _, cfg := range []model.MHAConfig{
			{DModel: e, Heads: 2},
			{DModel: e, Heads: 2, AddBiasKV: true, AddZeroAttn: true, Layout: model.SeqFirst},
		} {
			m, err := model.LoadMultiHeadAttention(be, cfg, mustWeights(t, mhaWeights(rng, cfg)), "")
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			q, _ := uploadPair(t, be, rng, b, sq, e)
			kvData := randomData(rng, b*sk*e)
			withNaN := append([]float32(nil), kvData...)
			for i, p := range pad {
				if p {
					for c := range e {
						withNaN[i*e+c] = nan
					}
				}
			}
			query, shape := q.bf, []int{b, sk, e}
			if cfg.Layout == model.SeqFirst {
				query, shape = q.sf, []int{sk, b, e}
				kvData, withNaN = transpose01(kvData, b, sk, e), transpose01(withNaN, b, sk, e)
			}
			boolPad := make([]float32, len(pad))
			for i, p := range pad {
				if p {
					boolPad[i] = 1
				}
			}
			for _, opt := range []model.MHAOptions{
				{AttentionOptions: backend.AttentionOptions{KeyPadding: uploadData(t, be, boolPad, b, sk)}},
				{AttentionOptions: backend.AttentionOptions{KeyPadding: uploadData(t, be, boolPad, b, sk),
					Mask: uploadData(t, be, randomData(rng, sq*sk), sq, sk), MaskKind: backend.MaskAdditive}},
			} {
				for _, need := range []bool{false, true} {
					opt.NeedWeights = need
					var outs [2][]float32
					for i, data := range [][]float32{kvData, withNaN} {
						out, w, err := m.Attend(query, uploadData(t, be, data, shape...), nil, opt)
						if err != nil {
							t.Fatal(err)
						}
						outs[i] = download(t, be, out)
						out.Release()
						if w != nil {
							w.Release()
						}
					}
					// Masked values may round the row's softmax differently (by an ulp), never more.
					if d := maxDiff(outs[0], outs[1]); hasNaN(outs[1]) || !(d <= 1e-6) {
						t.Errorf("%+v (additive mask %v, weights %v): NaN at padded keys changed the output by %g", cfg, opt.Mask != nil, need, d)
					}
				}
			}
		}
	})
}

// TestTransformerSmallSizes runs nn.Transformer on sequences of 0 and 1
// positions, in both layouts, on the CPU and on OpenCL: the outputs are finite
// and agree.
func TestTransformerSmallSizes(t *testing.T) {
	const e, ff = 4, 8
	rng := rand.New(rand.NewPCG(111, 112))
	var ts []*safetensors.Tensor
	ts = append(ts, layerTensors(rng, "encoder.layers.0.", e, ff, false)...)
	ts = append(ts, layerTensors(rng, "decoder.layers.0.", e, ff, true)...)
	for _, p := range []string{"encoder.norm.", "decoder.norm."} {
		ts = append(ts, randomTensor(rng, p+"weight", 1, e), randomTensor(rng, p+"bias", 0.1, e))
	}
	w := mustWeights(t, ts)
	cpu := cpuref.New()
	defer cpu.Close()
	gpu := gputest.Device(t)
	for _, lay := range []model.Layout{model.BatchFirst, model.SeqFirst} {
		for _, sz := range [][3]int{{1, 1, 1}, {1, 0, 2}, {2, 3, 1}, {1, 2, 0}, {0, 2, 2}} {
			b, ss, st := sz[0], sz[1], sz[2]
			shape := func(s int) []int {
				if lay == model.SeqFirst {
					return []int{s, b, e}
				}
				return []int{b, s, e}
			}
			src, tgt := randomData(rng, b*ss*e), randomData(rng, b*st*e)
			var outs [][]float32
			for _, be := range []backend.Backend{cpu, gpu} {
				tr, err := model.LoadTransformer(be, model.TransformerConfig{Layer: model.LayerConfig{DModel: e, Heads: 2, DFF: ff,
					Activation: backend.ReLU, Layout: lay}, EncoderLayers: 1, DecoderLayers: 1}, w, "")
				if err != nil {
					t.Fatal(err)
				}
				out, err := tr.Forward(uploadData(t, be, src, shape(ss)...), uploadData(t, be, tgt, shape(st)...),
					model.TransformerOptions{Tgt: backend.AttentionOptions{Causal: backend.CausalTopLeft}})
				if err != nil {
					t.Fatalf("%s %v on %s: %v", lay, sz, be.Name(), err)
				}
				if !out.Shape().Equal(shape(st)) {
					t.Errorf("%s %v: output %v, want %v", lay, sz, out.Shape(), shape(st))
				}
				outs = append(outs, download(t, be, out))
				if err := errors.Join(out.Release(), tr.Close()); err != nil {
					t.Fatal(err)
				}
			}
			if d := maxDiff(outs[0], outs[1]); hasNaN(outs[0]) || !(d <= 1e-5) {
				t.Errorf("%s %v: cpu and OpenCL differ by %g", lay, sz, d)
			}
		}
	}
}
