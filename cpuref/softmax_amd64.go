//go:build !purego

package cpuref

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels of softmax_amd64.s.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAVX512Exp selects expShiftAVX512 over expShiftAVX2 (a variable, so that
// tests can run both).
var useAVX512Exp = useAVX2 && cpu.X86.HasAVX512F

//go:noescape
func expShiftAVX2(x *float32, n int, m float32) float32

//go:noescape
func expShiftAVX512(x *float32, n int, m float32) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

// expShift sets x[j] = exp(x[j] - m) (as expf: 0 below -103.97)
// and returns the sum. x - m must be <= 88 or NaN, as in a softmax where m is
// the row maximum. With AVX2 every element, the last ones too, goes through
// the vector kernel, so a row followed by masked (-Inf) entries gives exactly
// the values and the sum it gives alone (padding never changes a result).
// The AVX-512 kernel gives the values and the sum of the AVX2 kernel.
func expShift(x []float32, m float32) float32 {
	if useAVX512Exp && len(x) > 0 {
		return expShiftAVX512(&x[0], len(x), m)
	}
	if useAVX2 && len(x) > 0 {
		return expShiftAVX2(&x[0], len(x), m)
	}
	var sum float32
	for j, v := range x {
		p := expf(v - m)
		x[j] = p
		sum += p
	}
	return sum
}

// rowMax is the largest element of row, ignoring NaN (-Inf for an empty row or
// one of -Inf and NaN).
func rowMax(row []float32) float32 {
	mx := negInf
	n := 0
	if useAVX2 && len(row) >= 8 {
		n = len(row) &^ 7
		mx = maxAVX2(&row[0], n)
	}
	for _, v := range row[n:] {
		if v > mx {
			mx = v
		}
	}
	return mx
}
