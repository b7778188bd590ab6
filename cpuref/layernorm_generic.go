//go:build !amd64 || purego

package cpuref

// rowSum is the float64 sum of y.
func rowSum(y []float32) float64 {
	var s float64
	for _, v := range y {
		s += float64(v)
	}
	return s
}

// rowSqDev is the float64 sum of (y[j] - mean)^2.
func rowSqDev(y []float32, mean float64) float64 {
	var s float64
	for _, v := range y {
		c := float64(v) - mean
		s += c * c
	}
	return s
}

// normAffine sets dst[j] = (y[j] - mean) * rstd * gamma[j] + beta[j] in
// float64, rounded once; dst may be y.
func normAffine(dst, y, gamma, beta []float32, mean, rstd float64) {
	normAffineGeneric(dst, y, gamma, beta, mean, rstd)
}
