package sgemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// benchShape is one benchmarked product: C[m×n] = A[m×k]·op(B), op(B) = Bᵀ when transB (the layout of
// y = x·Wᵀ with PyTorch's [out, in] weights).
type benchShape struct {
	m, n, k int
	transB  bool
}

func (s benchShape) String() string {
	name := fmt.Sprintf("m=%d/n=%d/k=%d", s.m, s.n, s.k)
	if s.transB {
		name += "/tB"
	}
	return name
}

// Square sizes, then the encoder layer's projections and feed-forward products (512 tokens, d_model 512,
// QKV packed to 1536, d_ff 2048) with transposed weights.
var gemmShapes = []benchShape{
	{256, 256, 256, false},
	{512, 512, 512, false},
	{1024, 1024, 1024, false},
	{1024, 1024, 1024, true},
	{512, 1536, 512, true},
	{512, 512, 512, true},
	{512, 2048, 512, true},
	{512, 512, 2048, true},
	{4096, 1536, 384, true}, // all-MiniLM-L6-v2's FFN at a batch of 32 x 128 tokens (gpubench bench --op embed)
	{682, 384, 1536, true},  // its second product, on one of cpuref.FeedForward's chunks of rows
}

// Attention tiles, run by GemmSerial: scores Q·Kᵀ and weights·V.
var serialShapes = []benchShape{
	{64, 64, 64, true},
	{64, 64, 64, false},
	{64, 64, 512, false},
	{64, 512, 64, true},
	{128, 128, 32, true},  // attention scores at head dim 32
	{128, 32, 128, false}, // attention values at head dim 32
}

func benchOperands(s benchShape) (a, b, c []float32) {
	rnd := rand.New(rand.NewPCG(7, 8))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = rnd.Float32() - 0.5
		}
		return x
	}
	return fill(s.m * s.k), fill(s.k * s.n), fill(s.m * s.n)
}

func reportGFLOPS(b *testing.B, s benchShape) {
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func ldB(s benchShape) int {
	if s.transB {
		return s.k
	}
	return s.n
}

// BenchmarkGemm measures Gemm on all cores (go test -bench Gemm -cpu 2 on the two-core target).
func BenchmarkGemm(b *testing.B) {
	for _, s := range gemmShapes {
		b.Run(s.String(), func(b *testing.B) {
			x, y, z := benchOperands(s)
			for b.Loop() {
				Gemm(false, s.transB, s.m, s.n, s.k, 1, x, s.k, y, ldB(s), 0, z, s.n)
			}
			reportGFLOPS(b, s)
		})
	}
}

// BenchmarkGemmSerial measures GemmSerial on attention tiles and on one 512³ product.
func BenchmarkGemmSerial(b *testing.B) {
	for _, s := range append(serialShapes, gemmShapes[1]) {
		b.Run(s.String(), func(b *testing.B) {
			x, y, z := benchOperands(s)
			for b.Loop() {
				GemmSerial(false, s.transB, s.m, s.n, s.k, 1, x, s.k, y, ldB(s), 0, z, s.n)
			}
			reportGFLOPS(b, s)
		})
	}
}

// BenchmarkGemmPortable measures the pure-Go micro-kernel used off amd64 and with the purego tag.
func BenchmarkGemmPortable(b *testing.B) {
	s := gemmShapes[1]
	b.Run(s.String(), func(b *testing.B) {
		defer useKernel(portableKernel)()
		x, y, z := benchOperands(s)
		for b.Loop() {
			Gemm(false, s.transB, s.m, s.n, s.k, 1, x, s.k, y, ldB(s), 0, z, s.n)
		}
		reportGFLOPS(b, s)
	})
}

// BenchmarkGonum is gonum's native blas32.Gemm (Go, with gonum's SSE helpers on amd64) on the same
// shapes as BenchmarkGemm, for comparison.
func BenchmarkGonum(b *testing.B) {
	for _, s := range gemmShapes {
		b.Run(s.String(), func(b *testing.B) {
			x, y, z := benchOperands(s)
			tB := blas.NoTrans
			if s.transB {
				tB = blas.Trans
			}
			rows, cols := s.k, s.n
			if s.transB {
				rows, cols = s.n, s.k
			}
			ga := blas32.General{Rows: s.m, Cols: s.k, Stride: s.k, Data: x}
			gb := blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: y}
			gc := blas32.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: z}
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, tB, 1, ga, gb, 0, gc)
			}
			reportGFLOPS(b, s)
		})
	}
}
