//go:build !amd64 || purego

package cpuref

// addTo sets dst += src.
func addTo(dst, src []float32) { addToGeneric(dst, src) }
