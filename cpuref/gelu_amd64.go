//go:build !purego

package cpuref

//go:noescape
func geluAVX2(x, bias *float32, n int)

// geluBias sets x[j] = gelu(x[j] + bias[j]) (bias nil: gelu(x[j])), with the
// assembly kernel four at a time where the CPU has AVX2: it rounds each value
// exactly as gelu does and leaves gelu's erfc branch (v/sqrt(2) < -1.5) to gelu.
func geluBias(x, bias []float32) {
	n := 0
	if useAVX2 && len(x) >= 4 {
		n = len(x) &^ 3
		var b *float32
		if bias != nil {
			b = &bias[0]
		}
		geluAVX2(&x[0], b, n)
		for j, v := range x[:n] {
			// A lane the kernel left holding v: every GELU value is >= -0.17,
			// and the branch starts at -1.5*sqrt(2) = -2.1213...
			if v < -2.12 && inErfcBranch(v) {
				x[j] = gelu(v)
			}
		}
	}
	geluBiasGeneric(x[n:], tail(bias, n))
}

// tail is b[n:], or nil for a nil b.
func tail(b []float32, n int) []float32 {
	if b == nil {
		return nil
	}
	return b[n:]
}
