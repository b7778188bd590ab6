//go:build !purego

package cpuref

import "golang.org/x/sys/cpu"

// useAVX512GELU selects geluAVX512 (a variable, so that tests can run the AVX2
// kernel too).
var useAVX512GELU = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL && cpu.X86.HasBMI2

//go:noescape
func geluAVX2(x, bias *float32, n int)

//go:noescape
func geluAVX512(x, bias *float32, n int)

// geluBias sets x[j] = gelu(x[j] + bias[j]) (bias nil: gelu(x[j])) with the
// assembly kernels, which round each value exactly as gelu does: with
// AVX-512 eight at a time, every element and both of gelu's branches (the
// tail branch's lanes gathered into a second pass); with AVX2 four at a time,
// leaving gelu's tail branch (|v/sqrt(2)| > 1.5) and the last len(x)%4
// elements to gelu.
func geluBias(x, bias []float32) {
	if useAVX512GELU && len(x) > 0 {
		var b *float32
		if bias != nil {
			b = &bias[:len(x)][0]
		}
		geluAVX512(&x[0], b, len(x))
		return
	}
	n := 0
	if useAVX2 && len(x) >= 4 {
		n = len(x) &^ 3
		var b *float32
		if bias != nil {
			b = &bias[0]
		}
		geluAVX2(&x[0], b, n)
		for j, v := range x[:n] {
			// A lane the kernel left holding v: the branch starts at |v| =
			// 1.5*sqrt(2) = 2.1213..., and the kernel's values are in
			// [-0.17, 2.09].
			if (v < -2.12 || v > 2.12) && inTailBranch(v) {
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
