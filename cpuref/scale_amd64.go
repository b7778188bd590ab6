//go:build !purego

package cpuref

//go:noescape
func scaleRoundAVX2(dst, src *float32, n int, inv float64)

//go:noescape
func scaleAVX2(x *float32, n int, c float32)

// scaleRound sets dst[j] = float32(float64(src[j]) * inv), the product in
// float64 and rounded once: eight at a time in AVX2 where the CPU has it.
func scaleRound(dst, src []float32, inv float64) {
	src = src[:len(dst)]
	n := 0
	if useAVX2 && len(dst) >= 8 {
		n = len(dst) &^ 7
		scaleRoundAVX2(&dst[0], &src[0], n, inv)
	}
	scaleRoundGeneric(dst[n:], src[n:], inv)
}

// scaleSlice sets x *= c: eight at a time in AVX2 where the CPU has it.
func scaleSlice(x []float32, c float32) {
	n := 0
	if useAVX2 && len(x) >= 8 {
		n = len(x) &^ 7
		scaleAVX2(&x[0], n, c)
	}
	scaleSliceGeneric(x[n:], c)
}
