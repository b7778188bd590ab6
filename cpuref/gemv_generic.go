//go:build !amd64 || purego

package cpuref

// dotRows takes no elements: portable Go converts the weights as it goes
// (gemvTransB).
func (w weight) dotRows(sums *[gemvMaxRows]float32, a []float32, lda, m, at, k int) int {
	return 0
}
