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

// BenchmarkDecode times one decode step (Sq = 1, grouped-query K/V read from a
// cache) by device time and reports the K/V read rate in GB/s, the figure
// gpubench bench --op decode compares with the device's memory bandwidth, and
// the process's CPU time per step (cpu-ms/op), which on a CPU device that other
// processes share is steadier than the device time.
func BenchmarkDecode(b *testing.B) {
	d := gputest.Device(b)
	for _, bc := range []struct {
		seq, heads, headsKV int
		dtype               backend.DType
	}{{32768, 32, 8, backend.Float16}, {32768, 32, 8, backend.Float32}, {4096, 32, 8, backend.Float16}} {
		b.Run(fmt.Sprintf("seq_kv=%d/heads=%d/heads_kv=%d/kv=%v", bc.seq, bc.heads, bc.headsKV, bc.dtype), func(b *testing.B) {
			const dim = 128
			rng := rand.New(rand.NewPCG(1, 2))
			var ts []backend.Tensor
			mk := func(dtype backend.DType, h, s int) backend.Heads {
				x, err := d.UploadAs(dtype, randomData(rng, h*s*dim), 1, h, s, dim)
				if err != nil {
					b.Fatal(err)
				}
				ts = append(ts, x)
				hv, _ := backend.HeadsOf(x)
				return hv
			}
			q, out := mk(backend.Float32, bc.heads, 1), mk(backend.Float32, bc.heads, 1)
			k, v := mk(bc.dtype, bc.headsKV, bc.seq), mk(bc.dtype, bc.headsKV, bc.seq)
			defer func() {
				for _, x := range ts {
					_ = x.Release()
				}
			}()
			step := func() error { return d.Attention(out, q, k, v, backend.AttentionOptions{}) }
			if _, err := d.KernelTime(step); err != nil { // build and warm up
				b.Fatal(err)
			}
			var total time.Duration
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			for range b.N {
				t, err := d.KernelTime(step)
				if err != nil {
					b.Fatal(err)
				}
				total += t
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			bytes := float64(2 * bc.headsKV * bc.seq * dim * bc.dtype.Size())
			b.ReportMetric(bytes*float64(b.N)/total.Seconds()*1e-9, "GB/s")
		})
	}
}
