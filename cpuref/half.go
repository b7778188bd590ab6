package cpuref

import "github.com/clattn/clattn/backend"

// encode rounds src into dst (same length) as 16-bit patterns of dtype d
// (Float16 or BFloat16), to nearest even.
func encode(dst []uint16, src []float32, d backend.DType) {
	dst = dst[:len(src)]
	if d == backend.BFloat16 {
		for i, x := range src {
			dst[i] = backend.BFloat16Bits(x)
		}
		return
	}
	for i, x := range src {
		dst[i] = backend.Float16Bits(x)
	}
}

// decode converts the 16-bit patterns of dtype d (Float16 or BFloat16) in src
// exactly into dst (same length).
func decode(dst []float32, src []uint16, d backend.DType) {
	dst = dst[:len(src)]
	if d == backend.BFloat16 {
		for i, h := range src {
			dst[i] = backend.BFloat16Value(h)
		}
		return
	}
	for i, h := range src {
		dst[i] = backend.Float16Value(h)
	}
}
