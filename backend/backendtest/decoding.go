package backendtest

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
)

// The attention of today's decoders: grouped-query K/V heads, float16 K/V,
// broadcast masks, a few query rows against a long K/V cache (the decode
// path, split over the keys), the KV-cache write, half-precision weights in
// Gemm, and the dtype rules.

// decodingCases are attention calls with fewer K/V heads than query heads
// (Hkv = 1: multi-query; Hkv = H as the control), float16 K/V, every mask
// broadcast form, bottom-right causal with Sq < Sk, and decode shapes (Sq <= 16)
// whose visible keys are 1, not a multiple of a key tile (256) or of the
// slices the keys are split into, and long.
var decodingCases = []attnCase{
	{b: 1, h: 4, hkv: 1, sq: 1, sk: 1, dk: 8, dv: 8, short: true},
	{b: 1, h: 4, hkv: 1, sq: 1, sk: 1, dk: 8, dv: 8, kv: backend.Float16, causal: backend.CausalBottomRight, short: true},
	{b: 2, h: 4, hkv: 2, sq: 3, sk: 70, dk: 24, dv: 24, causal: backend.CausalBottomRight, mask: boolMaskB1, short: true},
	{b: 1, h: 6, hkv: 6, sq: 1, sk: 1000, dk: 64, dv: 64, kv: backend.Float16, short: true},
	{b: 1, h: 6, hkv: 3, sq: 1, sk: 1000, dk: 64, dv: 64, causal: backend.CausalBottomRight, mask: addMask1H, short: true},
	{b: 1, h: 8, hkv: 2, sq: 16, sk: 1025, dk: 64, dv: 64, kv: backend.Float16, causal: backend.CausalBottomRight, mask: addMaskB1, short: true},
	{b: 2, h: 4, hkv: 1, sq: 17, sk: 300, dk: 32, dv: 16, kv: backend.Float16, causal: backend.CausalBottomRight, mask: boolMask1H, short: true},
	{b: 2, h: 3, hkv: 1, sq: 5, sk: 2049, dk: 40, dv: 40, kv: backend.Float16, pad: randomPad, short: true},
	{b: 1, h: 2, hkv: 1, sq: 8, sk: 4100, dk: 128, dv: 128, kv: backend.Float16, causal: backend.CausalTopLeft},
	{b: 1, h: 4, hkv: 2, sq: 64, sk: 64, dk: 16, dv: 16, causal: backend.CausalTopLeft, mask: boolMask11, short: true},
	{b: 2, h: 2, hkv: 2, sq: 7, sk: 40, dk: 8, dv: 8, mask: addMask1H, short: true},
	{b: 2, h: 4, hkv: 2, sq: 9, sk: 33, dk: 8, dv: 8, mask: addMask11, kv: backend.Float16, short: true},
	{b: 1, h: 2, hkv: 1, sq: 129, sk: 257, dk: 80, dv: 80, kv: backend.Float16, causal: backend.CausalBottomRight, mask: addMaskB1},
	{b: 2, h: 8, hkv: 2, sq: 2, sk: 513, dk: 16, dv: 16, kv: backend.Float16, causal: backend.CausalBottomRight, pad: leadingPad, short: true},
}

// Option changes what Run, RunShort and Verify cover.
type Option int

const (
	// WithoutDecoding leaves out the Decoding group (grouped-query and float16
	// K/V attention, broadcast masks, the decode path, WriteKV, half-precision
	// Gemm weights and the dtype rules), for a backend that does not have them yet.
	WithoutDecoding Option = iota + 1
)

func (s *suite) testDecoding(t tester) {
	t.Run("Attention", func(t tester) {
		for _, c := range decodingCases {
			if !s.full && !c.short {
				continue
			}
			t.Run(c.name(), func(t tester) {
				e := s.env(t)
				e.checkAttention(e.attnProblem(c))
			})
		}
		t.Run("b=2,h=4,hkv=1,sq=4,sk=600,d=16,mask=boolb1,kv=f16,deadrows", func(t tester) {
			// Whole rows masked (every key out for some queries of some batches),
			// on the decode path.
			e := s.env(t)
			p := e.attnProblem(attnCase{b: 2, h: 4, hkv: 1, sq: 4, sk: 600, dk: 16, dv: 16, mask: boolMaskB1, kv: backend.Float16})
			for _, r := range []int{1, 6} { // (batch 0, query 1) and (batch 1, query 2)
				copy(p.Mask[r*p.Sk:][:p.Sk], filled(p.Sk, 1))
			}
			e.checkAttention(p)
		})
	})
	t.Run("KVCache", s.testKVCache)
	t.Run("Tensors", s.testHalfTensors)
	t.Run("Gemm", func(t tester) {
		for _, c := range []gemmCase{
			{batch: 1, m: 1, n: 147, k: 64, transB: true, bType: backend.Float16, short: true},
			// Decoding's few rows against half weights (the weight-streaming
			// products): 1 to 8 rows, k below, at and past a 32-weight step.
			{batch: 1, m: 1, n: 70, k: 300, transB: true, act: backend.SiLU, bType: backend.BFloat16, short: true},
			{batch: 1, m: 3, n: 37, k: 100, transB: true, bias: true, residual: true, bType: backend.BFloat16, short: true},
			{batch: 1, m: 4, n: 20, k: 31, transB: true, gaps: true, bType: backend.BFloat16, short: true},
			{batch: 1, m: 8, n: 50, k: 33, transB: true, bType: backend.Float16, short: true},
			{batch: 1, m: 33, n: 40, k: 128, transB: true, bias: true, act: backend.GELU, residual: true, bType: backend.BFloat16, short: true},
			{batch: 3, m: 17, n: 24, k: 40, transB: true, bShare: batchOne, bType: backend.Float16, short: true},
			{batch: 2, m: 20, n: 30, k: 40, transA: true, gaps: true, beta: 0.5, bType: backend.BFloat16, short: true},
			{batch: 1, m: 65, n: 63, k: 129, bType: backend.Float16, short: true},
			{batch: 1, m: 129, n: 300, k: 257, transB: true, bType: backend.Float16},
		} {
			if !s.full && !c.short {
				continue
			}
			t.Run(c.name(), func(t tester) { s.runGemm(t, c) })
		}
	})
	t.Run("Errors", s.testDecodingErrors)
}

// testKVCache writes K/V rows into NaN-filled caches of both dtypes in two
// steps (a prompt, then one token), from packed projection views, checks every
// element of the cache, runs attention over the filled part (the NaN beyond it
// must not leak), and writes past the capacity.
func (s *suite) testKVCache(t tester) {
	for _, dt := range []backend.DType{backend.Float32, backend.Float16} {
		t.Run("cache="+dt.String(), func(t tester) {
			e := s.env(t)
			const B, H, Hkv, D, Cap = 2, 4, 2, 24, 40
			cacheData := filled(B*Hkv*Cap*D, nan32)
			cache, err := e.b.UploadAs(dt, cacheData, B, Hkv, Cap, D)
			e.must("UploadAs", err)
			e.t.Cleanup(func() { _ = cache.Release() })
			want := append([]float32(nil), cacheData...)
			write := func(pos, n int) {
				// src is the K part of a packed [B n Hkv*D+3] projection: NaN gap columns.
				w := Hkv*D + 3
				buf := filled(B*n*w, nan32)
				for b := range B {
					for i := range n {
						for h := range Hkv {
							row := e.uniform(D, -2, 2)
							copy(buf[(b*n+i)*w+1+h*D:][:D], row)
							copy(want[((b*Hkv+h)*Cap+pos+i)*D:][:D], roundTo(dt, row))
						}
					}
				}
				src, err := backend.PackedHeads(e.input("src", buf, B, n, w), Hkv, D, 1)
				e.must("PackedHeads", err)
				e.must("WriteKV", e.b.WriteKV(cache, src, pos))
				if i := firstBitDiff(e.download(cache), want); i >= 0 {
					e.t.Fatalf("WriteKV(pos %d, %d rows): cache element %d (batch %d head %d position %d) is %g, want %g",
						pos, n, i, i/(Hkv*Cap*D), i/(Cap*D)%Hkv, i/D%Cap, e.download(cache)[i], want[i])
				}
			}
			write(0, 29)
			write(29, 1)
			write(30, 0)

			// Attention of one new token over the 30 filled positions, the
			// 10 NaN positions beyond them outside the view.
			p := &oracle.Attention{B: B, H: H, Hkv: Hkv, Sq: 1, Sk: 30, Dk: D, Dv: D, Causal: backend.CausalBottomRight,
				Q: e.uniform(B*H*D, -1, 1)}
			for b := range B {
				for h := range Hkv {
					p.K = append(p.K, want[(b*Hkv+h)*Cap*D:][:30*D]...)
				}
			}
			p.V = p.K
			kv, err := backend.KVHeads(cache, 30)
			e.must("KVHeads", err)
			q, err := backend.HeadsOf(e.input("q", p.Q, B, H, 1, D))
			e.must("HeadsOf", err)
			out := e.nanHeads(B, H, 1, D)
			e.must("Attention", e.b.Attention(out, q, kv, kv, backend.AttentionOptions{Causal: backend.CausalBottomRight}))
			ref, naive, _ := p.Run()
			e.checkScaled("Attention over KVHeads", e.download(out.T), ref, naive, tolerance.MaxAbs(p.V))

			// Past the capacity: an error naming position and capacity, nothing written.
			src, err := backend.HeadsOf(e.input("src", e.uniform(B*Hkv*2*D, -1, 1), B, Hkv, 2, D))
			e.must("HeadsOf", err)
			err = e.b.WriteKV(cache, src, Cap-1)
			if !errors.Is(err, backend.ErrShape) || !strings.Contains(err.Error(), fmt.Sprint(Cap)) ||
				!strings.Contains(err.Error(), fmt.Sprint(Cap-1)) {
				e.t.Errorf("WriteKV past capacity: %v, want ErrShape naming position %d and capacity %d", err, Cap-1, Cap)
			}
			if err := e.b.WriteKV(cache, src, -1); !errors.Is(err, backend.ErrArgument) {
				e.t.Errorf("WriteKV at position -1: %v, want ErrArgument", err)
			}
			if i := firstBitDiff(e.download(cache), want); i >= 0 {
				e.t.Errorf("a failed WriteKV changed cache element %d", i)
			}
			if _, err := backend.KVHeads(cache, Cap+1); !errors.Is(err, backend.ErrShape) {
				e.t.Errorf("KVHeads beyond capacity: %v, want ErrShape", err)
			}
			e.checkInputs()
		})
	}
}

// testHalfTensors checks the dtype of tensors, the conversions of UploadAs
// (round to nearest even), UploadBits (every pattern, exactly) and Download,
// and zero-filled AllocAs.
func (s *suite) testHalfTensors(t tester) {
	for _, dt := range []backend.DType{backend.Float16, backend.BFloat16} {
		t.Run(dt.String(), func(t tester) {
			e := s.env(t)
			bits := make([]uint16, 1<<16)
			for i := range bits {
				bits[i] = uint16(i)
			}
			x, err := e.b.UploadBits(dt, bits, 256, 256)
			e.must("UploadBits", err)
			e.t.Cleanup(func() { _ = x.Release() })
			if x.DType() != dt || !x.Shape().Equal(backend.Shape{256, 256}) {
				e.t.Errorf("UploadBits made a %v %v tensor, want %v [256 256]", x.DType(), x.Shape(), dt)
			}
			for i, v := range e.download(x) {
				want := backend.Float16Value(bits[i])
				if dt == backend.BFloat16 {
					want = backend.BFloat16Value(bits[i])
				}
				if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
					e.t.Fatalf("%v bits %#04x download as %g, want %g", dt, bits[i], v, want)
				}
			}
			// Values halfway between two halves, and around the range's ends.
			vals := []float32{1 + 1.0/2048, 1 + 3.0/2048, 65504, 65520, 1e6, -1e-8, 0x1p-24, 3.14159, -0.0, 0x1.0101p-130}
			y, err := e.b.UploadAs(dt, vals, len(vals))
			e.must("UploadAs", err)
			e.t.Cleanup(func() { _ = y.Release() })
			for i, v := range e.download(y) {
				if want := backend.RoundTo(dt, vals[i]); math.Float32bits(v) != math.Float32bits(want) {
					e.t.Errorf("UploadAs(%v, %g) downloads as %g, want %g", dt, vals[i], v, want)
				}
			}
			z, err := e.b.AllocAs(dt, 3, 5)
			e.must("AllocAs", err)
			e.t.Cleanup(func() { _ = z.Release() })
			if z.DType() != dt {
				e.t.Errorf("AllocAs made a %v tensor, want %v", z.DType(), dt)
			}
			if i := firstBitDiff(e.download(z), make([]float32, 15)); i >= 0 {
				e.t.Errorf("AllocAs(%v) element %d is not zero", dt, i)
			}
			if _, err := e.b.UploadBits(dt, bits[:5], 2, 3); !errors.Is(err, backend.ErrShape) {
				e.t.Errorf("UploadBits with 5 values for [2 3]: %v, want ErrShape", err)
			}
		})
	}
	t.Run("f32", func(t tester) {
		e := s.env(t)
		x, err := e.b.AllocAs(backend.Float32, 2, 2)
		e.must("AllocAs", err)
		e.t.Cleanup(func() { _ = x.Release() })
		if x.DType() != backend.Float32 || e.upload([]float32{1}, 1).DType() != backend.Float32 {
			e.t.Errorf("AllocAs(f32) or Upload made a %v tensor", x.DType())
		}
		if _, err := e.b.UploadBits(backend.Float32, []uint16{1}, 1); !errors.Is(err, backend.ErrArgument) {
			e.t.Errorf("UploadBits(f32): %v, want ErrArgument", err)
		}
		if _, err := e.b.AllocAs(backend.DType(7), 1); !errors.Is(err, backend.ErrArgument) {
			e.t.Errorf("AllocAs(DType(7)): %v, want ErrArgument", err)
		}
	})
}

// testDecodingErrors checks that head counts, mask shapes and dtypes that do
// not fit fail with the sentinel and a message naming what is wrong, and
// write nothing.
func (s *suite) testDecodingErrors(t tester) {
	e := s.env(t)
	heads := func(dt backend.DType, shape ...int) backend.Heads {
		x, err := backend.HeadsOf(e.inputAs("x", dt, make([]float32, backend.Shape(shape).Numel()), shape...))
		e.must("HeadsOf", err)
		return x
	}
	tensor := func(dt backend.DType, shape ...int) backend.Tensor {
		return e.inputAs("x", dt, make([]float32, backend.Shape(shape).Numel()), shape...)
	}
	f32, f16, bf16 := backend.Float32, backend.Float16, backend.BFloat16
	q := heads(f32, 1, 6, 3, 8)
	k4, v4 := heads(f32, 1, 4, 5, 8), heads(f32, 1, 4, 5, 8)
	k2, v2 := heads(f16, 1, 2, 5, 8), heads(f16, 1, 2, 5, 8)
	m := backend.MatOf
	outT := e.nanOutput(1, 6, 3, 8)
	outN, err := backend.HeadsOf(outT)
	e.must("HeadsOf", err)
	cases := []struct {
		name string
		call func() error
		want error
		says []string
	}{
		{"Attention/heads", func() error { return e.b.Attention(outN, q, k4, v4, backend.AttentionOptions{}) },
			backend.ErrShape, []string{"6 heads", "4"}},
		{"Scores/heads", func() error { return e.b.Scores(tensor(f32, 1, 6, 3, 5), q, k4, 0) },
			backend.ErrShape, []string{"6 heads", "4"}},
		{"AttendValues/heads", func() error { return e.b.AttendValues(outN, tensor(f32, 1, 6, 3, 5), v4) },
			backend.ErrShape, []string{"6 heads", "4"}},
		{"Attention/mask-batch", func() error {
			return e.b.Attention(outN, q, k2, v2, backend.AttentionOptions{Mask: tensor(f32, 2, 1, 3, 5)})
		}, backend.ErrShape, []string{"mask is [2 1 3 5]", "[1 6 3 5]", "[1 1 3 5]"}},
		{"Softmax/mask-heads", func() error {
			return e.b.Softmax(tensor(f32, 1, 6, 3, 5), tensor(f32, 1, 6, 3, 5), backend.AttentionOptions{Mask: tensor(f32, 1, 2, 3, 5)})
		}, backend.ErrShape, []string{"mask is [1 2 3 5]"}},
		{"Attention/mask-rank", func() error {
			return e.b.Attention(outN, q, k2, v2, backend.AttentionOptions{Mask: tensor(f32, 6, 3, 5)})
		}, backend.ErrShape, []string{"mask is [6 3 5]"}},
		{"Attention/q-f16", func() error { return e.b.Attention(outN, heads(f16, 1, 6, 3, 8), k2, v2, backend.AttentionOptions{}) },
			backend.ErrArgument, []string{"Attention", "q is f16 [1 6 3 8]", "want f32"}},
		{"Attention/mask-f16", func() error {
			return e.b.Attention(outN, q, k2, v2, backend.AttentionOptions{Mask: tensor(f16, 3, 5)})
		}, backend.ErrArgument, []string{"mask is f16 [3 5]"}},
		{"Attention/k-bf16", func() error { return e.b.Attention(outN, q, heads(bf16, 1, 2, 5, 8), v2, backend.AttentionOptions{}) },
			backend.ErrArgument, []string{"k is bf16 [1 2 5 8]", "want f32 or f16"}},
		{"Scores/dst-f16", func() error { return e.b.Scores(tensor(f16, 1, 6, 3, 5), q, k2, 0) },
			backend.ErrArgument, []string{"Scores", "dst is f16 [1 6 3 5]"}},
		{"Softmax/scores-f16", func() error {
			return e.b.Softmax(tensor(f32, 1, 6, 3, 5), tensor(f16, 1, 6, 3, 5), backend.AttentionOptions{})
		}, backend.ErrArgument, []string{"Softmax", "scores is f16"}},
		{"AttendValues/weights-bf16", func() error { return e.b.AttendValues(outN, tensor(bf16, 1, 6, 3, 5), v2) },
			backend.ErrArgument, []string{"AttendValues", "weights is bf16"}},
		{"Gemm/a-f16", func() error {
			return e.b.Gemm(m(tensor(f32, 3, 6)), m(tensor(f16, 3, 4)), m(tensor(f16, 4, 6)), backend.GemmOptions{})
		}, backend.ErrArgument, []string{"Gemm", "a is f16 [3 4]"}},
		{"Gemm/dst-bf16", func() error {
			return e.b.Gemm(m(tensor(bf16, 3, 6)), m(tensor(f32, 3, 4)), m(tensor(bf16, 4, 6)), backend.GemmOptions{})
		}, backend.ErrArgument, []string{"dst is bf16 [3 6]"}},
		{"LayerNorm/x-f16", func() error { return e.b.LayerNorm(tensor(f32, 2, 8), tensor(f16, 2, 8), backend.LayerNormOptions{}) },
			backend.ErrArgument, []string{"LayerNorm", "x is f16 [2 8]"}},
		{"FeedForward/W1-f16", func() error {
			return e.b.FeedForward(tensor(f32, 2, 8), tensor(f32, 2, 8),
				backend.FFNWeights{W1: tensor(f16, 4, 8), W2: tensor(f32, 8, 4)}, backend.FFNOptions{})
		}, backend.ErrArgument, []string{"FeedForward", "W1 is f16 [4 8]"}},
		{"PositionalEncoding/dst-f16", func() error {
			return e.b.PositionalEncoding(tensor(f16, 3, 8), nil, backend.PositionalOptions{})
		}, backend.ErrArgument, []string{"dst is f16 [3 8]"}},
		{"WriteKV/src-f16", func() error { return e.b.WriteKV(tensor(f16, 1, 2, 9, 8), heads(f16, 1, 2, 1, 8), 0) },
			backend.ErrArgument, []string{"WriteKV", "src is f16"}},
		{"WriteKV/cache-bf16", func() error { return e.b.WriteKV(tensor(bf16, 1, 2, 9, 8), heads(f32, 1, 2, 1, 8), 0) },
			backend.ErrArgument, []string{"cache is bf16 [1 2 9 8]"}},
		{"WriteKV/heads", func() error { return e.b.WriteKV(tensor(f16, 1, 2, 9, 8), heads(f32, 1, 4, 1, 8), 0) },
			backend.ErrShape, []string{"[1 4 1 8]", "[1 2 9 8]"}},
		{"WriteKV/rank", func() error { return e.b.WriteKV(tensor(f32, 2, 9, 8), heads(f32, 1, 2, 1, 8), 0) },
			backend.ErrShape, []string{"cache is [2 9 8]"}},
		{"WriteKV/src-in-cache", func() error {
			cache := tensor(f32, 1, 2, 9, 8)
			src, err := backend.KVHeads(cache, 1)
			e.must("KVHeads", err)
			return e.b.WriteKV(cache, src, 4)
		}, backend.ErrArgument, []string{"cache and src are the same [1 2 9 8] tensor"}},
	}
	for _, c := range cases {
		err := c.call()
		if !errors.Is(err, c.want) {
			e.t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		for _, sub := range c.says {
			if !strings.Contains(err.Error(), sub) {
				e.t.Errorf("%s: message %q does not say %q", c.name, err, sub)
			}
		}
	}
	if i := firstBitDiff(e.download(outT), filled(6*3*8, nan32)); i >= 0 {
		e.t.Errorf("a failed call wrote element %d of its output", i)
	}
	e.checkInputs()
}
