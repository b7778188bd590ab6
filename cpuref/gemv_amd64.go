//go:build !purego

package cpuref

//go:noescape
func dotF32AVX512(a, w *float32, k int) float32

//go:noescape
func dotBF16AVX512(a *float32, w *uint16, k int) float32

//go:noescape
func dotF16AVX512(a *float32, w *uint16, k int) float32

//go:noescape
func dot4F32AVX512(a0, a1, a2, a3, w *float32, k int, sums *[gemvMaxRows]float32)

//go:noescape
func dot4BF16AVX512(a0, a1, a2, a3 *float32, w *uint16, k int, sums *[gemvMaxRows]float32)

//go:noescape
func dot4F16AVX512(a0, a1, a2, a3 *float32, w *uint16, k int, sums *[gemvMaxRows]float32)

// dotRows sets sums[r] to the dot product of the first kv elements of row
// r < m of a (row stride lda) with the weight elements [at, at+kv), where kv
// is the largest multiple of 32 up to k that the CPU's AVX-512 kernels take;
// it returns kv (0 without AVX-512), leaving the rest to the caller. The
// weights are read once for all m rows, half precision widened in registers.
func (w weight) dotRows(sums *[gemvMaxRows]float32, a []float32, lda, m, at, k int) int {
	kv := k &^ 31
	if !useAVX512 || kv == 0 {
		return 0
	}
	var wf *float32
	var wh *uint16
	if w.half.Bits == nil {
		wf = &w.f32[at : at+kv][0]
	} else {
		wh = &w.half.Bits[at : at+kv][0]
	}
	if m == 1 {
		switch {
		case wf != nil:
			sums[0] = dotF32AVX512(&a[:kv][0], wf, kv)
		case w.half.BFloat16:
			sums[0] = dotBF16AVX512(&a[:kv][0], wh, kv)
		default:
			sums[0] = dotF16AVX512(&a[:kv][0], wh, kv)
		}
		return kv
	}
	// Rows past m repeat the last one; their sums are not used.
	var rows [gemvMaxRows]*float32
	for r := range rows {
		rows[r] = &a[min(r, m-1)*lda:][:kv][0]
	}
	switch {
	case wf != nil:
		dot4F32AVX512(rows[0], rows[1], rows[2], rows[3], wf, kv, sums)
	case w.half.BFloat16:
		dot4BF16AVX512(rows[0], rows[1], rows[2], rows[3], wh, kv, sums)
	default:
		dot4F16AVX512(rows[0], rows[1], rows[2], rows[3], wh, kv, sums)
	}
	return kv
}
