package cpuref_test

import (
	"fmt"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// reportFLOPs reports flops per iteration as GFLOP/s.
func reportFLOPs(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func benchTensor(b *testing.B, be *cpuref.Backend, seed uint64, shape ...int) backend.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	x, err := be.Upload(uniform(newRand(seed), n), shape...)
	if err != nil {
		b.Fatal(err)
	}
	return x
}

func BenchmarkAttention(b *testing.B) {
	for _, c := range []struct {
		batch, seq, heads, dim int
		causal                 backend.CausalMode
	}{{1, 512, 8, 64, backend.NotCausal}, {1, 512, 8, 64, backend.CausalTopLeft}, {1, 4096, 8, 64, backend.NotCausal},
		{32, 128, 12, 32, backend.NotCausal}, // all-MiniLM-L6-v2 at 32 x 128 tokens (gpubench bench --op embed)
	} {
		dim := c.dim
		name := fmt.Sprintf("batch=%d/seq=%d/heads=%d/dim=%d", c.batch, c.seq, c.heads, dim)
		if c.causal != backend.NotCausal {
			name += "/causal"
		}
		b.Run(name, func(b *testing.B) {
			be := cpuref.New()
			// Packed [batch, seq, 3*heads*dim] QKV as the model makes it.
			width := 3 * c.heads * dim
			qkv := benchTensor(b, be, 1, c.batch, c.seq, width)
			out := benchTensor(b, be, 2, c.batch, c.seq, c.heads*dim)
			q, _ := backend.PackedHeads(qkv, c.heads, dim, 0)
			k, _ := backend.PackedHeads(qkv, c.heads, dim, c.heads*dim)
			v, _ := backend.PackedHeads(qkv, c.heads, dim, 2*c.heads*dim)
			o, _ := backend.PackedHeads(out, c.heads, dim, 0)
			opt := backend.AttentionOptions{Causal: c.causal}
			b.ResetTimer()
			for b.Loop() {
				if err := be.Attention(o, q, k, v, opt); err != nil {
					b.Fatal(err)
				}
			}
			flops := 4 * float64(c.batch) * float64(c.seq) * float64(c.seq) * float64(dim) * float64(c.heads)
			if c.causal != backend.NotCausal {
				flops /= 2
			}
			reportFLOPs(b, flops)
		})
	}
}

func BenchmarkFeedForward(b *testing.B) {
	for _, c := range []struct {
		rows, dm, dff int
		act           backend.Activation
	}{{512, 512, 2048, backend.ReLU}, {512, 512, 2048, backend.GELU},
		{4096, 384, 1536, backend.GELU}, // all-MiniLM-L6-v2 at 32 x 128 tokens (gpubench bench --op embed)
	} {
		b.Run(fmt.Sprintf("rows=%d/dmodel=%d/dff=%d/%v", c.rows, c.dm, c.dff, c.act), func(b *testing.B) {
			be := cpuref.New()
			x := benchTensor(b, be, 1, c.rows, c.dm)
			dst := benchTensor(b, be, 2, c.rows, c.dm)
			w := backend.FFNWeights{
				W1: benchTensor(b, be, 3, c.dff, c.dm), B1: benchTensor(b, be, 4, c.dff),
				W2: benchTensor(b, be, 5, c.dm, c.dff), B2: benchTensor(b, be, 6, c.dm),
			}
			opt := backend.FFNOptions{Activation: c.act, Residual: x}
			b.ResetTimer()
			for b.Loop() {
				if err := be.FeedForward(dst, x, w, opt); err != nil {
					b.Fatal(err)
				}
			}
			reportFLOPs(b, 4*float64(c.rows)*float64(c.dm)*float64(c.dff))
		})
	}
}

// BenchmarkEncoderLayer is one post-norm Transformer encoder layer (PyTorch's
// nn.TransformerEncoderLayer, ReLU) built from the backend's ops.
func BenchmarkEncoderLayer(b *testing.B) {
	const batch, seq, dm, heads, dff = 1, 512, 512, 8, 2048
	be := cpuref.New()
	x := benchTensor(b, be, 1, batch, seq, dm)
	qkv := benchTensor(b, be, 2, batch, seq, 3*dm)
	attn := benchTensor(b, be, 3, batch, seq, dm)
	h := benchTensor(b, be, 4, batch, seq, dm)
	inW, inB := benchTensor(b, be, 5, 3*dm, dm), benchTensor(b, be, 6, 3*dm)
	outW, outB := benchTensor(b, be, 7, dm, dm), benchTensor(b, be, 8, dm)
	w := backend.FFNWeights{
		W1: benchTensor(b, be, 9, dff, dm), B1: benchTensor(b, be, 10, dff),
		W2: benchTensor(b, be, 11, dm, dff), B2: benchTensor(b, be, 12, dm),
	}
	g1, b1 := benchTensor(b, be, 13, dm), benchTensor(b, be, 14, dm)
	g2, b2 := benchTensor(b, be, 15, dm), benchTensor(b, be, 16, dm)
	q, _ := backend.PackedHeads(qkv, heads, dm/heads, 0)
	k, _ := backend.PackedHeads(qkv, heads, dm/heads, dm)
	v, _ := backend.PackedHeads(qkv, heads, dm/heads, 2*dm)
	o, _ := backend.PackedHeads(attn, heads, dm/heads, 0)
	xRows := backend.RowsOf(x)
	step := func() error {
		if err := be.Gemm(backend.RowsOf(qkv), xRows, backend.MatOf(inW), backend.GemmOptions{TransB: true, Bias: inB}); err != nil {
			return err
		}
		if err := be.Attention(o, q, k, v, backend.AttentionOptions{}); err != nil {
			return err
		}
		if err := be.Gemm(backend.RowsOf(h), backend.RowsOf(attn), backend.MatOf(outW), backend.GemmOptions{TransB: true, Bias: outB, Residual: &xRows}); err != nil {
			return err
		}
		if err := be.LayerNorm(h, h, backend.LayerNormOptions{Gamma: g1, Beta: b1}); err != nil {
			return err
		}
		if err := be.FeedForward(attn, h, w, backend.FFNOptions{Activation: backend.ReLU, Residual: h}); err != nil {
			return err
		}
		return be.LayerNorm(attn, attn, backend.LayerNormOptions{Gamma: g2, Beta: b2})
	}
	b.ResetTimer()
	for b.Loop() {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	rows := float64(batch * seq)
	flops := 2*rows*dm*3*dm + 4*rows*seq*dm + 2*rows*dm*dm + 4*rows*dm*dff
	reportFLOPs(b, flops)
}

// BenchmarkDecode times one decode step (one query row per head against a
// K/V cache) and reports the K/V bytes it reads per second.
func BenchmarkDecode(b *testing.B) {
	const dim = 128
	for _, c := range []struct {
		heads, headsKV, seqKV int
		dtype                 backend.DType
	}{{32, 8, 32768, backend.Float16}, {32, 8, 32768, backend.Float32}, {32, 32, 4096, backend.Float16}} {
		b.Run(fmt.Sprintf("heads=%d/heads_kv=%d/seq_kv=%d/kv=%v", c.heads, c.headsKV, c.seqKV, c.dtype), func(b *testing.B) {
			be := cpuref.New()
			n := c.headsKV * c.seqKV * dim
			kv := func(seed uint64) backend.Heads {
				t, err := be.UploadAs(c.dtype, uniform(newRand(seed), n), 1, c.headsKV, c.seqKV, dim)
				if err != nil {
					b.Fatal(err)
				}
				h, _ := backend.HeadsOf(t)
				return h
			}
			k, v := kv(1), kv(2)
			q, _ := backend.HeadsOf(benchTensor(b, be, 3, 1, c.heads, 1, dim))
			o, _ := backend.HeadsOf(benchTensor(b, be, 4, 1, c.heads, 1, dim))
			for b.Loop() {
				if err := be.Attention(o, q, k, v, backend.AttentionOptions{Causal: backend.CausalBottomRight}); err != nil {
					b.Fatal(err)
				}
			}
			bytes := float64(2 * n * c.dtype.Size())
			b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
