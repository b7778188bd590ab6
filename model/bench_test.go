package model_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
)

// BenchmarkAttendLayouts times one self-attention block batch-first and
// seq-first (strided views, no transposes), with and without the keys
// add_bias_kv and add_zero_attn append: the layouts should cost the same.
func BenchmarkAttendLayouts(b *testing.B) {
	be := cpuref.New()
	defer be.Close()
	const batch, heads, e = 2, 8, 256
	rng := rand.New(rand.NewPCG(91, 92))
	for _, seq := range []int{128, 512} {
		for _, lay := range []model.Layout{model.BatchFirst, model.SeqFirst} {
			for _, extra := range []bool{false, true} {
				cfg := model.MHAConfig{DModel: e, Heads: heads, Layout: lay, AddBiasKV: extra, AddZeroAttn: extra}
				b.Run(fmt.Sprintf("seq=%d/layout=%s/appended_keys=%v", seq, lay, extra), func(b *testing.B) {
					m, err := model.LoadMultiHeadAttention(be, cfg, mustWeights(b, mhaWeights(rng, cfg)), "")
					if err != nil {
						b.Fatal(err)
					}
					defer m.Close()
					shape := []int{batch, seq, e}
					if lay == model.SeqFirst {
						shape = []int{seq, batch, e}
					}
					x := upload(b, be, rng, shape...)
					flops := float64(batch*seq) * (8*e*e + 4*float64(seq)*e)
					b.ResetTimer()
					for range b.N {
						out, _, err := m.Attend(x, nil, nil, model.MHAOptions{})
						if err != nil {
							b.Fatal(err)
						}
						out.Release()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
