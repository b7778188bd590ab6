//go:build !purego

package cpuref

//go:noescape
func sumAVX2(y *float32, n int) float64

//go:noescape
func sqDevAVX2(y *float32, n int, mean float64) float64

//go:noescape
func normAffineAVX2(dst, y, gamma, beta *float32, n int, mean, rstd float64)

// rowSum is the float64 sum of y: eight partial sums in AVX2 where the CPU
// has it, then the last len(y)%8 values in order.
func rowSum(y []float32) float64 {
	var s float64
	n := 0
	if useAVX2 && len(y) >= 8 {
		n = len(y) &^ 7
		s = sumAVX2(&y[0], n)
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
	if useAVX2 && len(y) >= 8 {
		n = len(y) &^ 7
		s = sqDevAVX2(&y[0], n, mean)
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
	if useAVX2 && len(y) >= 4 {
		n = len(y) &^ 3
		normAffineAVX2(&dst[0], &y[0], &gamma[0], &beta[0], n, mean, rstd)
	}
	normAffineGeneric(dst[n:], y[n:], gamma[n:], beta[n:], mean, rstd)
}
