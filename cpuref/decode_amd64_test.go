//go:build !purego

package cpuref

import "testing"

// TestFourRowKernelsAVX2 checks the AVX2 kernels where the AVX-512 ones would
// run by default.
func TestFourRowKernelsAVX2(t *testing.T) {
	if !fourRowKernels {
		t.Skip("no AVX2, FMA and F16C on this CPU")
	}
	saved := useAVX512
	useAVX512 = false
	defer func() { useAVX512 = saved }()
	checkFourRowKernels(t)
	checkScoresGrouping(t)
}

// TestFourRowKernelsQuad checks the AVX-512 float16 score kernel of four keys a
// step, which the eight-key kernel leaves to head dims it does not take.
func TestFourRowKernelsQuad(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	saved := hasAVX512DQ
	hasAVX512DQ = false
	defer func() { hasAVX512DQ = saved }()
	checkFourRowKernels(t)
	checkScoresGrouping(t)
}
