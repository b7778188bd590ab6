// Command halfread measures what reading a float16 buffer costs next to
// reading float32 on this machine's cores: every core streams its share of a
// 1 GiB buffer once with plain 64-byte loads and once widening float16 to
// float32 (VCVTPH2PS) with nothing else to do, and the command prints both
// rates and their ratio, the medians of several passes.
//
// The ratio bounds what a float16 decode step (gpubench bench --op decode
// --kv-dtype f16) can reach of memory_gbps, the plain read's rate: no
// arithmetic on the values is needed to fall short of it. On the 2-core
// AVX-512 FP16 Xeon VM this was written on (Sapphire Rapids or later), the
// widening read streamed at 75-77% of the plain one (19 vs 25 GB/s).
//
//	go run ./bench/compare/halfread
package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/cpu"
)

const (
	bufferBytes = 1 << 30
	passes      = 7
)

func main() {
	if !hasKernels || !cpu.X86.HasAVX512F {
		fmt.Fprintln(os.Stderr, "halfread: needs an amd64 CPU with AVX-512")
		os.Exit(1)
	}
	buf := make([]byte, bufferBytes)
	for i := range buf {
		buf[i] = byte(i) & 0x3f // small finite values as float32 and as float16
	}
	workers := runtime.GOMAXPROCS(0)
	rate := func(read func(p *byte, n int) float32) float64 {
		times := make([]float64, passes)
		sums := make([]float32, workers) // kept, so that the reads stay
		for i := range times {
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				lo, hi := bufferBytes/256*w/workers*256, bufferBytes/256*(w+1)/workers*256
				wg.Add(1)
				go func() {
					defer wg.Done()
					sums[w] += read((*byte)(unsafe.Pointer(&buf[lo])), hi-lo)
				}()
			}
			wg.Wait()
			times[i] = time.Since(start).Seconds()
		}
		slices.Sort(times)
		return bufferBytes / times[passes/2] / 1e9
	}
	floats, halves := rate(sumFloats), rate(sumHalves)
	fmt.Printf("float32 read: %.1f GB/s\nfloat16 read, widened: %.1f GB/s (%.0f%% of the float32 read), %d cores\n",
		floats, halves, 100*halves/floats, workers)
}
