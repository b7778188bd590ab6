package gpu_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/gputest"
)

func BenchmarkGemm(b *testing.B) {
	d := gputest.Device(b)
	for _, s := range [][3]int{{1024, 1024, 1024}} {
		m, n, k := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("m=%d/n=%d/k=%d", m, n, k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			ta := mustUpload(b, d, randomData(rng, m*k), m, k)
			tb := mustUpload(b, d, randomData(rng, k*n), k, n)
			tc := mustUpload(b, d, make([]float32, m*n), m, n)
			out := make([]float32, 1)
			one := mustUpload(b, d, out, 1)
			run := func() {
				if err := d.Gemm(backend.MatOf(tc), backend.MatOf(ta), backend.MatOf(tb), backend.GemmOptions{}); err != nil {
					b.Fatal(err)
				}
				if err := d.Download(out, one); err != nil { // waits for the queue
					b.Fatal(err)
				}
			}
			run() // builds the program
			for b.Loop() {
				run()
			}
			b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkAttention times the fused kernel on [1, heads, seq, 64] (causal off)
// and reports GFLOP/s (4*heads*seq^2*64 per call) and the process's peak RSS.
func BenchmarkAttention(b *testing.B) {
	d := gputest.Device(b)
	for _, bc := range []struct{ seq, heads int }{{512, 8}, {4096, 8}, {16384, 8}} {
		b.Run(fmt.Sprintf("seq=%d/heads=%d", bc.seq, bc.heads), func(b *testing.B) {
			const dim = 64
			rng := rand.New(rand.NewPCG(1, 2))
			n := bc.heads * bc.seq * dim
			mk := func() backend.Heads {
				hv, err := backend.HeadsOf(mustUpload(b, d, randomData(rng, n), 1, bc.heads, bc.seq, dim))
				if err != nil {
					b.Fatal(err)
				}
				return hv
			}
			q, k, v, out := mk(), mk(), mk(), mk()
			one := make([]float32, n)
			run := func() {
				if err := d.Attention(out, q, k, v, backend.AttentionOptions{}); err != nil {
					b.Fatal(err)
				}
				if err := d.Download(one, out.T); err != nil {
					b.Fatal(err)
				}
			}
			run() // build and warm up
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				run()
			}
			b.StopTimer()
			flops := 4 * float64(bc.heads) * float64(bc.seq) * float64(bc.seq) * dim
			b.ReportMetric(flops*float64(b.N)/time.Since(start).Seconds()*1e-9, "GFLOP/s")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MB")
			}
		})
	}
}
