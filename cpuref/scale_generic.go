//go:build !amd64 || purego

package cpuref

// scaleRound sets dst[j] = float32(float64(src[j]) * inv).
func scaleRound(dst, src []float32, inv float64) { scaleRoundGeneric(dst, src, inv) }

// scaleSlice sets x *= c.
func scaleSlice(x []float32, c float32) { scaleSliceGeneric(x, c) }
