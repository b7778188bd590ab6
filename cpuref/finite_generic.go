//go:build !amd64 || purego

package cpuref

// allFiniteRows reports whether no element of the rows x cols view of x (rows
// stride elements apart) is NaN or ±Inf.
func allFiniteRows(x []float32, rows, cols, stride int) bool {
	return allFiniteRowsGeneric(x, rows, cols, stride)
}

// hasZero reports whether row holds a zero.
func hasZero(row []float32) bool { return hasZeroGeneric(row) }
