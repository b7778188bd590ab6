//go:build !purego

package cpuref

// geluKernel is one of geluBias's code paths; use selects it and returns the
// function that restores the previous choice.
type geluKernel struct {
	name string
	use  func() (restore func())
}

// geluKernels are the paths of geluBias this CPU can run.
func geluKernels() []geluKernel {
	choose := func(avx512, avx2 bool) func() func() {
		return func() func() {
			old512, old2 := useAVX512GELU, useAVX2
			useAVX512GELU, useAVX2 = avx512, avx2
			return func() { useAVX512GELU, useAVX2 = old512, old2 }
		}
	}
	var ks []geluKernel
	if useAVX512GELU {
		ks = append(ks, geluKernel{"avx512", choose(true, useAVX2)})
	}
	if useAVX2 {
		ks = append(ks, geluKernel{"avx2", choose(false, true)})
	}
	return append(ks, geluKernel{"generic", choose(false, false)})
}
