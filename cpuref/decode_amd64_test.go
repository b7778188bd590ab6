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
}
