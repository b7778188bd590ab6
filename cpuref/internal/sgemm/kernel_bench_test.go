package sgemm

import (
	"fmt"
	"testing"
)

// BenchmarkKernel measures each micro-kernel alone on cache-resident panels: the ceiling for Gemm.
func BenchmarkKernel(b *testing.B) {
	for _, mk := range testKernels() {
		for _, kc := range []int{64, 128, blockK} {
			b.Run(fmt.Sprintf("%s/kc=%d", mk.name, kc), func(b *testing.B) {
				pa := make([]float32, mk.mr*kc)
				pb := make([]float32, mk.nr*kc)
				c := make([]float32, mk.mr*mk.nr)
				for b.Loop() {
					mk.fn(kc, pa, kc, pb, mk.nr, c, mk.nr, 1, 1)
				}
				b.ReportMetric(2*float64(mk.mr*mk.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
