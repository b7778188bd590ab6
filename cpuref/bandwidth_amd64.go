//go:build !purego

package cpuref

import "golang.org/x/sys/cpu"

var (
	useAVX2Words   = cpu.X86.HasAVX2
	useAVX512Words = cpu.X86.HasAVX512F
)

//go:noescape
func sumWordsAVX2(p *uint64, n int) uint64

//go:noescape
func sumWordsAVX512(p *uint64, n int) uint64

// sumWords is the streaming read of ReadBandwidth: the sum of x, with the
// widest vector loads the CPU has. A loop of 8-byte loads issues eight loads
// per cache line and measures the core's instruction rate rather than the
// memory (about half the bandwidth on AVX-512 cores).
func sumWords(x []uint64) uint64 {
	n := 0
	var s uint64
	switch {
	case useAVX512Words && len(x) >= 32:
		n = len(x) &^ 31
		s = sumWordsAVX512(&x[0], n)
	case useAVX2Words && len(x) >= 16:
		n = len(x) &^ 15
		s = sumWordsAVX2(&x[0], n)
	}
	return s + sumWordsGeneric(x[n:])
}
