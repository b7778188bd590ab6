//go:build !purego

package cpuref

//go:noescape
func addAVX2(dst, src *float32, n int)

// addTo sets dst += src: 32 elements at a time in AVX2 where the CPU has it
// (bias and residual adds run over whole activations), the rest one by one.
func addTo(dst, src []float32) {
	n := 0
	if useAVX2 && len(dst) >= 32 {
		n = len(dst) &^ 31
		addAVX2(&dst[0], &src[:len(dst)][0], n)
	}
	addToGeneric(dst[n:], src[n:len(dst)])
}
