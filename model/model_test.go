package model_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/golden"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// randomTensor is a float32 tensor of uniform values in [-s, s).
func randomTensor(rng *rand.Rand, name string, s float32, shape ...int) *safetensors.Tensor {
	data := make([]float32, backend.Shape(shape).Numel())
	for i := range data {
		data[i] = (2*rng.Float32() - 1) * s
	}
	return safetensors.FromFloat32(name, data, shape...)
}

// mhaTensors are the weights of one attention block under prefix.
func mhaTensors(rng *rand.Rand, prefix string, e int) []*safetensors.Tensor {
	s := float32(1 / math.Sqrt(float64(e)))
	return []*safetensors.Tensor{
		randomTensor(rng, prefix+"in_proj_weight", s, 3*e, e),
		randomTensor(rng, prefix+"in_proj_bias", 0.1, 3*e),
		randomTensor(rng, prefix+"out_proj.weight", s, e, e),
		randomTensor(rng, prefix+"out_proj.bias", 0.1, e),
	}
}

// layerTensors are the weights of an encoder layer (decoder adds multihead_attn and norm3).
func layerTensors(rng *rand.Rand, prefix string, e, ff int, decoder bool) []*safetensors.Tensor {
	ts := mhaTensors(rng, prefix+"self_attn.", e)
	if decoder {
		ts = append(ts, mhaTensors(rng, prefix+"multihead_attn.", e)...)
	}
	ts = append(ts,
		randomTensor(rng, prefix+"linear1.weight", 0.3, ff, e),
		randomTensor(rng, prefix+"linear1.bias", 0.1, ff),
		randomTensor(rng, prefix+"linear2.weight", 0.3, e, ff),
		randomTensor(rng, prefix+"linear2.bias", 0.1, e),
	)
	norms := []string{"norm1.", "norm2."}
	if decoder {
		norms = append(norms, "norm3.")
	}
	for _, n := range norms {
		ts = append(ts, randomTensor(rng, prefix+n+"weight", 1, e), randomTensor(rng, prefix+n+"bias", 0.1, e))
	}
	return ts
}

func mustWeights(t testing.TB, ts []*safetensors.Tensor) *model.Weights {
	t.Helper()
	w, err := model.NewWeights(ts...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func upload(t testing.TB, be backend.Backend, rng *rand.Rand, shape ...int) backend.Tensor {
	t.Helper()
	data, err := randomTensor(rng, "x", 1, shape...).Float32s()
	if err != nil {
		t.Fatal(err)
	}
	x, err := be.Upload(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Release() })
	return x
}

func download(t *testing.T, be backend.Backend, x backend.Tensor) []float32 {
	t.Helper()
	out := make([]float32, x.Shape().Numel())
	if err := be.Download(out, x); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantError(t *testing.T, err error, sentinel error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v containing %q", sentinel, parts)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("error %q is not %v", err, sentinel)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestConfigErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	w := mustWeights(t, mhaTensors(rng, "", 10))
	_, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: 10, Heads: 3}, w, "")
	wantError(t, err, backend.ErrShape, "d_model 10 is not divisible by 3 heads")
	_, err = model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: 10, Heads: 0}, w, "")
	wantError(t, err, backend.ErrShape, "heads = 0")
	_, err = model.LoadEncoderLayer(be, model.LayerConfig{DModel: 8, Heads: 2}, w, "")
	wantError(t, err, backend.ErrShape, "d_ff = 0")
	_, err = model.LoadEncoderLayer(be, model.LayerConfig{DModel: 8, Heads: 2, DFF: 4, Activation: 7}, w, "")
	wantError(t, err, backend.ErrArgument, "unknown activation")
	_, err = model.LoadDecoderLayer(be, model.LayerConfig{DModel: 8, Heads: 2, DFF: 4, Eps: -1}, w, "")
	wantError(t, err, backend.ErrArgument, "eps = -1")
	_, err = model.LoadEncoder(be, model.EncoderConfig{Layer: model.LayerConfig{DModel: 8, Heads: 2, DFF: 4}}, w, "")
	wantError(t, err, backend.ErrArgument, "0 layers")
	_, err = model.NewPositionalEncoding(be, 0)
	wantError(t, err, backend.ErrShape, "d_model = 0")
}

func TestInputShapeErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	const e = 8
	m, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: 2}, mustWeights(t, mhaTensors(rng, "", e)), "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Forward(upload(t, be, rng, 2, 5, 7), nil, backend.AttentionOptions{})
	wantError(t, err, backend.ErrShape, "query is [2 5 7], want [batch seq 8]")
	_, err = m.Forward(upload(t, be, rng, 2, 5, e), upload(t, be, rng, 3, 4, e), backend.AttentionOptions{})
	wantError(t, err, backend.ErrShape, "key is [3 4 8], want [2 seq 8]")
	_, err = m.Forward(upload(t, be, rng, 2, 5, e), nil, backend.AttentionOptions{KeyPadding: upload(t, be, rng, 2, 4)})
	wantError(t, err, backend.ErrShape, "key_padding_mask is [2 4], want [2 5]")
	_, err = m.Forward(nil, nil, backend.AttentionOptions{})
	wantError(t, err, backend.ErrArgument, "query has no tensor")

	enc, err := model.LoadEncoderLayer(be, model.LayerConfig{DModel: e, Heads: 2, DFF: 16, Activation: backend.ReLU},
		mustWeights(t, layerTensors(rng, "", e, 16, false)), "")
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	_, err = enc.Forward(upload(t, be, rng, 5, e), model.EncoderOptions{})
	wantError(t, err, backend.ErrShape, "x is [5 8], want [batch seq 8]")

	dec, err := model.LoadDecoderLayer(be, model.LayerConfig{DModel: e, Heads: 2, DFF: 16, Activation: backend.ReLU},
		mustWeights(t, layerTensors(rng, "", e, 16, true)), "")
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	_, err = dec.Forward(upload(t, be, rng, 2, 3, e), upload(t, be, rng, 1, 4, e), model.DecoderOptions{})
	wantError(t, err, backend.ErrShape, "batch sizes differ")
	_, err = dec.Forward(upload(t, be, rng, 2, 3, e), upload(t, be, rng, 2, 4, 6), model.DecoderOptions{})
	wantError(t, err, backend.ErrShape, "memory is [2 4 6], want [batch seq 8]")
}

// TestWeightErrors checks that every missing, unexpected and mis-shaped tensor
// is named in one error.
func TestWeightErrors(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	const e, ff = 8, 16
	var ts []*safetensors.Tensor
	for _, x := range layerTensors(rng, "layers.3.", e, ff, false) {
		switch x.Name {
		case "layers.3.linear1.bias": // missing
		case "layers.3.norm1.weight":
			ts = append(ts, randomTensor(rng, x.Name, 1, e+1)) // mis-shaped
		case "layers.3.linear2.bias":
			ts = append(ts, safetensors.FromUint8(x.Name, make([]uint8, e), e)) // wrong dtype
		default:
			ts = append(ts, x)
		}
	}
	ts = append(ts,
		randomTensor(rng, "layers.3.linear3.weight", 1, 2, 2), // unexpected
		randomTensor(rng, "layers.4.linear1.weight", 1, 2, 2), // outside the prefix: ignored
	)
	cfg := model.LayerConfig{DModel: e, Heads: 2, DFF: ff, Activation: backend.ReLU}
	_, err := model.LoadEncoderLayer(be, cfg, mustWeights(t, ts), "layers.3.")
	wantError(t, err, model.ErrWeights,
		"missing layers.3.linear1.bias [16]",
		"layers.3.norm1.weight is [9], want [8]",
		"layers.3.linear2.bias has dtype U8",
		"unexpected layers.3.linear3.weight [2 2]",
		`prefix "layers.3."`)
	if strings.Contains(err.Error(), "layers.4.") {
		t.Errorf("a tensor outside the prefix is reported: %v", err)
	}

	// A stack reports problems in every layer and the final norm.
	var stack []*safetensors.Tensor
	for i := range 2 {
		for _, x := range layerTensors(rng, fmt.Sprintf("layers.%d.", i), e, ff, false) {
			if x.Name != "layers.1.self_attn.in_proj_weight" {
				stack = append(stack, x)
			}
		}
	}
	_, err = model.LoadEncoder(be, model.EncoderConfig{Layer: cfg, Layers: 2, FinalNorm: true}, mustWeights(t, stack), "")
	wantError(t, err, model.ErrWeights, "missing layers.1.self_attn.in_proj_weight [24 8]", "missing norm.weight [8]", "missing norm.bias [8]")

	_, err = model.NewWeights(ts[0], ts[0])
	wantError(t, err, model.ErrWeights, "duplicate tensor")
}

func TestReadWeights(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	path := filepath.Join(t.TempDir(), "mha.safetensors")
	if err := safetensors.WriteFile(path, mhaTensors(rng, "attn.", 4), nil); err != nil {
		t.Fatal(err)
	}
	w, err := model.ReadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.Names(), ","); got != "attn.in_proj_bias,attn.in_proj_weight,attn.out_proj.bias,attn.out_proj.weight" {
		t.Fatalf("names %s", got)
	}
	m, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: 4, Heads: 2}, w, "attn.")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: 4, Heads: 2, NoBias: true}, w, "attn.")
	wantError(t, err, model.ErrWeights, "unexpected attn.in_proj_bias [12]", "unexpected attn.out_proj.bias [4]")
	_, err = model.ReadWeights(filepath.Join(t.TempDir(), "absent"))
	if err == nil {
		t.Fatal("reading a missing file succeeded")
	}
}

// TestAttentionWeights checks the per-head weights: [B, H, Sq, Sk], each row a
// distribution over the unmasked keys, zero where every key is masked, and the
// same output as the fused path.
func TestAttentionWeights(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	const b, sq, sk, e, h = 3, 5, 7, 12, 3
	m, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: h}, mustWeights(t, mhaTensors(rng, "", e)), "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Batch 0 keeps every key, batch 1 masks keys 4..6, batch 2 masks them all.
	pad := make([]float32, b*sk)
	for j := 4; j < sk; j++ {
		pad[sk+j] = 1
	}
	for j := range sk {
		pad[2*sk+j] = 1
	}
	kp, err := be.Upload(pad, b, sk)
	if err != nil {
		t.Fatal(err)
	}
	defer kp.Release()
	q, kv := upload(t, be, rng, b, sq, e), upload(t, be, rng, b, sk, e)
	masks := backend.AttentionOptions{KeyPadding: kp}
	out, w, err := m.ForwardWithWeights(q, kv, masks)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	defer w.Release()
	if !w.Shape().Equal(backend.Shape{b, h, sq, sk}) {
		t.Fatalf("weights are %v", w.Shape())
	}
	ws := download(t, be, w)
	for bi := range b {
		for hi := range h {
			for i := range sq {
				row := ws[((bi*h+hi)*sq+i)*sk:][:sk]
				sum := 0.0
				for j, p := range row {
					sum += float64(p)
					if pad[bi*sk+j] != 0 && p != 0 {
						t.Errorf("batch %d head %d row %d: masked key %d has weight %g", bi, hi, i, j, p)
					}
				}
				want := 1.0
				if bi == 2 {
					want = 0
				}
				if math.Abs(sum-want) > 1e-5 {
					t.Errorf("batch %d head %d row %d sums to %g, want %g", bi, hi, i, sum, want)
				}
			}
		}
	}
	fused, err := m.Forward(q, kv, masks)
	if err != nil {
		t.Fatal(err)
	}
	defer fused.Release()
	if d := maxDiff(download(t, be, fused), download(t, be, out)); d > 1e-5 {
		t.Errorf("fused and unfused outputs differ by %g", d)
	}
}

// TestCrossEqualsSelf checks that the cross-attention path (two GEMMs on row
// views of in_proj_weight) agrees with the packed self-attention GEMM.
func TestCrossEqualsSelf(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	const e = 16
	m, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: 4}, mustWeights(t, mhaTensors(rng, "", e)), "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := upload(t, be, rng, 2, 6, e)
	copyOfX, err := be.Upload(download(t, be, x), 2, 6, e)
	if err != nil {
		t.Fatal(err)
	}
	defer copyOfX.Release()
	masks := backend.AttentionOptions{Causal: backend.CausalTopLeft}
	self, err := m.Forward(x, nil, masks)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Release()
	cross, err := m.Forward(x, copyOfX, masks)
	if err != nil {
		t.Fatal(err)
	}
	defer cross.Release()
	if d := maxDiff(download(t, be, self), download(t, be, cross)); d > 1e-6 {
		t.Errorf("self and cross paths differ by %g", d)
	}
}

func TestPositionalEncoding(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	const seq, d, start = 5, 6, 3
	pe, err := model.NewPositionalEncoding(be, d)
	if err != nil {
		t.Fatal(err)
	}
	table, err := pe.Table(seq, start)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Release()
	got := download(t, be, table)
	for p := range seq {
		for i := range d {
			ang := float64(p+start) / math.Pow(10000, float64(i-i%2)/d)
			want := math.Sin(ang)
			if i%2 == 1 {
				want = math.Cos(ang)
			}
			if math.Abs(float64(got[p*d+i])-want) > 1e-6 {
				t.Errorf("PE(%d, %d) = %g, want %g", p+start, i, got[p*d+i], want)
			}
		}
	}
	x, err := be.Upload(make([]float32, 2*seq*d), 2, seq, d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	y, err := pe.Forward(x, start)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Release()
	ys := download(t, be, y)
	if d := maxDiff(ys[:seq*d], got); d != 0 {
		t.Errorf("Forward(0) differs from the table by %g", d)
	}
	_, err = pe.Forward(upload(t, be, rng1(), 2, 3, d+1), 0)
	wantError(t, err, backend.ErrShape, "x is [2 3 7], want [... seq 6]")
	_, err = pe.Table(0, 0)
	wantError(t, err, backend.ErrShape, "seq = 0")
}

func rng1() *rand.Rand { return rand.New(rand.NewPCG(13, 14)) }

// TestGoldenLayers runs PyTorch's encoder and decoder cases through the golden package.
func TestGoldenLayers(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	for _, name := range []string{"encoder_postln_relu", "encoder_preln_gelu", "encoder_stack3_finalnorm", "decoder_postln", "decoder_preln_gelu", "mha_cross"} {
		rs, err := golden.RunFile(be, filepath.Join("..", "testdata", "golden", name+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !r.Pass {
				t.Error(r)
			}
		}
	}
}

// TestDecoderCausalFlag checks that the kernel's causal mask gives the same
// decoder output as PyTorch's tgt_mask read from the file.
func TestDecoderCausalFlag(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	f, err := safetensors.ReadFile(filepath.Join("..", "testdata", "golden", "decoder_postln.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var weights []*safetensors.Tensor
	inputs := map[string]backend.Tensor{}
	for _, x := range f.Tensors {
		switch x.Name {
		case "tgt", "memory", "tgt_mask", "memory_key_padding_mask":
			bt, err := model.Upload(be, x)
			if err != nil {
				t.Fatal(err)
			}
			defer bt.Release()
			inputs[x.Name] = bt
		case "out", "out_f64":
		default:
			weights = append(weights, x)
		}
	}
	e := f.Tensor("tgt").Shape[2]
	cfg := model.LayerConfig{DModel: e, Heads: 4, DFF: f.Tensor("linear1.weight").Shape[0], Activation: backend.ReLU}
	dec, err := model.LoadDecoderLayer(be, cfg, mustWeights(t, weights), "")
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	memory := backend.AttentionOptions{KeyPadding: inputs["memory_key_padding_mask"]}
	withMask, err := dec.Forward(inputs["tgt"], inputs["memory"], model.DecoderOptions{
		Self: backend.AttentionOptions{Mask: inputs["tgt_mask"], MaskKind: backend.MaskBool}, Memory: memory})
	if err != nil {
		t.Fatal(err)
	}
	defer withMask.Release()
	withFlag, selfW, crossW, err := dec.ForwardWithWeights(inputs["tgt"], inputs["memory"], model.DecoderOptions{
		Self: backend.AttentionOptions{Causal: backend.CausalTopLeft}, Memory: memory})
	if err != nil {
		t.Fatal(err)
	}
	defer withFlag.Release()
	defer selfW.Release()
	defer crossW.Release()
	if d := maxDiff(download(t, be, withMask), download(t, be, withFlag)); d > 1e-5 {
		t.Errorf("causal flag and tgt_mask differ by %g", d)
	}
	// The self-attention weights are causal: zero above the diagonal.
	st := f.Tensor("tgt").Shape[1]
	sw := download(t, be, selfW)
	for row := range len(sw) / st {
		i := row % st
		for j := i + 1; j < st; j++ {
			if sw[row*st+j] != 0 {
				t.Fatalf("self-attention row %d sees future key %d", i, j)
			}
		}
	}
	if s := crossW.Shape(); !s.Equal(backend.Shape{2, 4, st, f.Tensor("memory").Shape[1]}) {
		t.Errorf("cross-attention weights are %v", s)
	}
}

// TestEncoderStackWeights checks that the stack returns one weight tensor per
// layer and the same output with and without them.
func TestEncoderStackWeights(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rng := rand.New(rand.NewPCG(15, 16))
	const e, ff, layers = 8, 16, 3
	var ts []*safetensors.Tensor
	for i := range layers {
		ts = append(ts, layerTensors(rng, fmt.Sprintf("layers.%d.", i), e, ff, false)...)
	}
	cfg := model.EncoderConfig{Layer: model.LayerConfig{DModel: e, Heads: 2, DFF: ff, Activation: backend.GELU, NormFirst: true}, Layers: layers}
	enc, err := model.LoadEncoder(be, cfg, mustWeights(t, ts), "")
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	x := upload(t, be, rng, 2, 5, e)
	out, err := enc.Forward(x, model.EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	out2, ws, err := enc.ForwardWithWeights(x, model.EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer out2.Release()
	if len(ws) != layers {
		t.Fatalf("%d weight tensors for %d layers", len(ws), layers)
	}
	for _, w := range ws {
		if !w.Shape().Equal(backend.Shape{2, 2, 5, 5}) {
			t.Errorf("weights %v", w.Shape())
		}
		w.Release()
	}
	if d := maxDiff(download(t, be, out), download(t, be, out2)); d > 1e-5 {
		t.Errorf("outputs differ by %g", d)
	}
	if enc.Layer(1).Config() != cfg.Layer || enc.Config().Layers != layers || enc.Layer(layers) != nil {
		t.Errorf("config not kept")
	}
}

// trackingBackend records every tensor it makes, to find leaks.
type trackingBackend struct {
	*cpuref.Backend
	made []*cpuref.Tensor
}

func (b *trackingBackend) Alloc(shape ...int) (backend.Tensor, error) {
	return b.track(b.Backend.Alloc(shape...))
}

func (b *trackingBackend) Upload(data []float32, shape ...int) (backend.Tensor, error) {
	return b.track(b.Backend.Upload(data, shape...))
}

func (b *trackingBackend) track(t backend.Tensor, err error) (backend.Tensor, error) {
	if err == nil {
		b.made = append(b.made, t.(*cpuref.Tensor))
	}
	return t, err
}

func (b *trackingBackend) live() int {
	n := 0
	for _, t := range b.made {
		if t.Data() != nil {
			n++
		}
	}
	return n
}

// TestNoLeaks checks that Close (and a failed load) releases every tensor a
// module made, once the caller has released what Forward returned.
func TestNoLeaks(t *testing.T) {
	be := &trackingBackend{Backend: cpuref.New()}
	defer be.Close()
	rng := rand.New(rand.NewPCG(17, 18))
	const e, ff = 8, 16
	cfg := model.LayerConfig{DModel: e, Heads: 2, DFF: ff, Activation: backend.ReLU}
	var stack []*safetensors.Tensor
	for i := range 2 {
		stack = append(stack, layerTensors(rng, fmt.Sprintf("layers.%d.", i), e, ff, false)...)
	}
	stack = append(stack, randomTensor(rng, "norm.weight", 1, e), randomTensor(rng, "norm.bias", 1, e))
	enc, err := model.LoadEncoder(be, model.EncoderConfig{Layer: cfg, Layers: 2, FinalNorm: true}, mustWeights(t, stack), "")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := model.LoadDecoderLayer(be, model.LayerConfig{DModel: e, Heads: 2, DFF: ff, Activation: backend.GELU, NormFirst: true},
		mustWeights(t, layerTensors(rng, "", e, ff, true)), "")
	if err != nil {
		t.Fatal(err)
	}
	x := upload(t, be, rng, 2, 5, e)
	tgt := upload(t, be, rng, 2, 3, e)
	for range 2 { // the second pass reuses the scratch tensors
		mem, ws, err := enc.ForwardWithWeights(x, model.EncoderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out, sw, cw, err := dec.ForwardWithWeights(tgt, mem, model.DecoderOptions{Self: backend.AttentionOptions{Causal: backend.CausalTopLeft}})
		if err != nil {
			t.Fatal(err)
		}
		for _, t := range append(ws, mem, out, sw, cw) {
			t.Release()
		}
	}
	x.Release()
	tgt.Release()
	if err := errors.Join(enc.Close(), dec.Close()); err != nil {
		t.Fatal(err)
	}
	if n := be.live(); n != 0 {
		t.Errorf("%d of %d tensors leaked after Close", n, len(be.made))
	}

	// A failed load releases what it uploaded.
	_, err = model.LoadEncoder(be, model.EncoderConfig{Layer: cfg, Layers: 3}, mustWeights(t, stack), "")
	wantError(t, err, model.ErrWeights, "missing layers.2.self_attn.in_proj_weight", "unexpected norm.bias")
	if n := be.live(); n != 0 {
		t.Errorf("%d tensors leaked by a failed load", n)
	}
}

// TestNilArguments: nil backends, weights and tensors are ErrArgument, never a panic.
func TestNilArguments(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	w, err := model.NewWeights()
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.LayerConfig{DModel: 4, Heads: 2, DFF: 8, Activation: backend.ReLU}
	_, err = model.NewWeights(nil)
	wantError(t, err, backend.ErrArgument, "tensor 0 is nil")
	_, err = model.Upload(be, nil)
	wantError(t, err, backend.ErrArgument)
	_, _, err = model.UploadMask(be, nil)
	wantError(t, err, backend.ErrArgument)
	_, err = model.LoadEncoderLayer(nil, cfg, w, "")
	wantError(t, err, backend.ErrArgument, "no backend")
	_, err = model.LoadEncoderLayer(be, cfg, nil, "")
	wantError(t, err, backend.ErrArgument, "no weights")
	_, err = model.LoadDecoderLayer(be, cfg, nil, "")
	wantError(t, err, backend.ErrArgument, "no weights")
	_, err = model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: 4, Heads: 2}, nil, "")
	wantError(t, err, backend.ErrArgument, "no weights")
	_, err = model.LoadEncoder(be, model.EncoderConfig{Layer: cfg, Layers: 1}, nil, "")
	wantError(t, err, backend.ErrArgument, "no weights")
	_, err = model.LoadDecoder(be, model.DecoderConfig{Layer: cfg, Layers: 1}, nil, "")
	wantError(t, err, backend.ErrArgument, "no weights")
	_, err = model.LoadTransformer(nil, model.TransformerConfig{Layer: cfg, EncoderLayers: 1, DecoderLayers: 1}, w, "")
	wantError(t, err, backend.ErrArgument, "no backend")
	_, err = model.NewPositionalEncoding(nil, 4)
	wantError(t, err, backend.ErrArgument, "no backend")
}
