// Command halfread measures what reading a float16 buffer costs next to
// reading float32 on this machine's cores: every core streams its share of a
// 1 GiB buffer with plain 64-byte loads, then widening float16 to float32
// (VCVTPH2PS) with nothing else to do, then the same with a software prefetch
// 4 KiB ahead, and the command prints the rates and their ratios, the
// medians of several passes.
//
// On the 2-core AVX-512 FP16 Xeon VM this was written on (Sapphire Rapids or
// later), the widening read alone streamed at 70-83% of the plain one, and
// with the prefetch at 78-98%: the widening loop keeps fewer lines in flight
// than the plain one, and a prefetch ahead of it makes up for most of that.
// So float16 does not by itself hold a decode step (gpubench bench --op
// decode --kv-dtype f16) below 80% of memory_gbps, the plain read's rate.
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
	floats := rate(sumFloats)
	halves := rate(func(p *byte, n int) float32 { return sumHalves(p, n, 0) })
	prefetched := rate(func(p *byte, n int) float32 { return sumHalves(p, n, 4096) })
	fmt.Printf("float32 read: %.1f GB/s\nfloat16 read, widened: %.1f GB/s (%.0f%% of the float32 read)\n"+
		"float16 read, widened, prefetched 4 KiB ahead: %.1f GB/s (%.0f%% of the float32 read), %d cores\n",
		floats, halves, 100*halves/floats, prefetched, 100*prefetched/floats, workers)
}
