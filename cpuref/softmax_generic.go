//go:build !amd64 || purego

package cpuref

// expShift sets x[j] = exp(x[j] - m) (as expf: 0 below -103.97)
// and returns the sum.
func expShift(x []float32, m float32) float32 {
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
	for _, v := range row {
		if v > mx {
			mx = v
		}
	}
	return mx
}
