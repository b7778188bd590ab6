//go:build !purego

package cpuref

// kernelPath is one of a function's code paths; use selects it and returns
// the function that restores the previous choice.
type kernelPath struct {
	name string
	use  func() (restore func())
}

// kernelPaths are the paths this CPU can run of a function that picks AVX-512
// where *avx512 is set, else AVX2 where useAVX2 is, else generic Go.
func kernelPaths(avx512 *bool) []kernelPath {
	choose := func(wide, avx2 bool) func() func() {
		return func() func() {
			oldWide, old2 := *avx512, useAVX2
			*avx512, useAVX2 = wide, avx2
			return func() { *avx512, useAVX2 = oldWide, old2 }
		}
	}
	var ks []kernelPath
	if *avx512 {
		ks = append(ks, kernelPath{"avx512", choose(true, useAVX2)})
	}
	if useAVX2 {
		ks = append(ks, kernelPath{"avx2", choose(false, true)})
	}
	return append(ks, kernelPath{"generic", choose(false, false)})
}

// geluKernels are the paths of geluBias this CPU can run.
func geluKernels() []kernelPath { return kernelPaths(&useAVX512GELU) }

// layerNormKernels are the paths of LayerNorm's row kernels this CPU can run.
func layerNormKernels() []kernelPath { return kernelPaths(&useAVX512Norm) }
