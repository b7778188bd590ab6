//go:build !purego

package cpuref

import "golang.org/x/sys/cpu"

// useAVX512Norm selects the AVX-512 row kernels of LayerNorm (a variable, so
// that tests can run the AVX2 ones too).
var useAVX512Norm = useAVX2 && cpu.X86.HasAVX512F

//go:noescape
func sumAVX2(y *float32, n int) float64

//go:noescape
func sqDevAVX2(y *float32, n int, mean float64) float64

//go:noescape
func normAffineAVX2(dst, y, gamma, beta *float32, n int, mean, rstd float64)

//go:noescape
func sumAVX512(y *float32, n int) float64

//go:noescape
func sqDevAVX512(y *float32, n int, mean float64) float64

//go:noescape
func normAffineAVX512(dst, y, gamma, beta *float32, n int, mean, rstd float64)

// rowSum is the float64 sum of y: thirty-two partial sums in AVX-512 (or
// eight in AVX2) where the CPU has it, then the last values in order.
func rowSum(y []float32) float64 {
	var s float64
	n := 0
	if useAVX512Norm && len(y) >= 32 {
		n = len(y) &^ 31
		s = sumAVX512(&y[0], n)
	}
	if useAVX2 && len(y)-n >= 8 {
		m := (len(y) - n) &^ 7
		s += sumAVX2(&y[n], m)
		n += m
	}
	for _, v := range y[n:] {
		s += float64(v)
	}
	return s
}

// rowSqDev is the float64 sum of (y[j] - mean)^2, split as rowSum.
func rowSqDev(y []float32, mean float64) float64 {
	var s float64
	n := 0
	if useAVX512Norm && len(y) >= 32 {
		n = len(y) &^ 31
		s = sqDevAVX512(&y[0], n, mean)
	}
	if useAVX2 && len(y)-n >= 8 {
		m := (len(y) - n) &^ 7
		s += sqDevAVX2(&y[n], m, mean)
		n += m
	}
	for _, v := range y[n:] {
		c := float64(v) - mean
		s += c * c
	}
	return s
}

// normAffine sets dst[j] = (y[j] - mean) * rstd * gamma[j] + beta[j] in
// float64, rounded once; dst may be y.
func normAffine(dst, y, gamma, beta []float32, mean, rstd float64) {
	n := 0
	if useAVX512Norm && len(y) >= 8 {
		n = len(y) &^ 7
		normAffineAVX512(&dst[0], &y[0], &gamma[0], &beta[0], n, mean, rstd)
	}
	if useAVX2 && len(y)-n >= 4 {
		m := (len(y) - n) &^ 3
		normAffineAVX2(&dst[n], &y[n], &gamma[n], &beta[n], m, mean, rstd)
		n += m
	}
	normAffineGeneric(dst[n:], y[n:], gamma[n:], beta[n:], mean, rstd)
}
