//go:build !purego

package cpuref

//go:noescape
func nonFiniteAVX2(x *float32, rows, cols, stride int) bool

// allFiniteRows reports whether no element of the rows x cols view of x (rows
// stride elements apart) is NaN or ±Inf: eight columns at a time in AVX2
// where the CPU has it, the rest one by one.
func allFiniteRows(x []float32, rows, cols, stride int) bool {
	n := 0
	if useAVX2 && rows > 0 && cols >= 8 {
		n = cols &^ 7
		if nonFiniteAVX2(&x[:(rows-1)*stride+cols][0], rows, n, stride) {
			return false
		}
	}
	return allFiniteRowsGeneric(x[n:], rows, cols-n, stride)
}

//go:noescape
func zeroAVX2(x *float32, n int) bool

// hasZero reports whether row holds a zero: eight at a time in AVX2 where the
// CPU has it, the rest one by one.
func hasZero(row []float32) bool {
	n := 0
	if useAVX2 && len(row) >= 8 {
		n = len(row) &^ 7
		if zeroAVX2(&row[0], n) {
			return true
		}
	}
	return hasZeroGeneric(row[n:])
}
