//go:build !purego

package cpuref

import "testing"

// TestFourRowKernelsAVX2 checks the AVX2 kernels where the AVX-512 ones would
// run by default.
func TestFourRowKernelsAVX2(t *testing.T) {
	if !fourRowKernels {
		t.Skip("no AVX2, FMA and F16C on this CPU")
	}
	checkKernelsWithout(t, &useAVX512)
}

// TestFourRowKernelsQuad checks the AVX-512 float16 score kernel of four keys a
// step, which the eight-key kernel leaves to head dims it does not take.
func TestFourRowKernelsQuad(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	checkKernelsWithout(t, &hasAVX512DQ)
}

// checkKernelsWithout runs the four-row kernel checks with the CPU feature
// *feature taken away.
func checkKernelsWithout(t *testing.T, feature *bool) {
	saved := *feature
	*feature = false
	defer func() { *feature = saved }()
	checkFourRowKernels(t)
	checkScoresGrouping(t)
}
