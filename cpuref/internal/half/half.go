// Package half converts slices of 16-bit floating-point patterns (IEEE binary16
// and bfloat16) to float32 in bulk, for the CPU backend's hot loops: with F16C
// on amd64 eight halves per instruction, elsewhere by the exact bit arithmetic
// of package backend. Every conversion is exact.
package half

import "github.com/clattn/clattn/backend"

// Decode sets dst[i] to the value of the binary16 bits src[i], for i < len(src).
func Decode(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := decodeFast(dst, src)
	for i := n; i < len(src); i++ {
		dst[i] = backend.Float16Value(src[i])
	}
}

// DecodeBF16 sets dst[i] to the value of the bfloat16 bits src[i], for i < len(src).
func DecodeBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = backend.BFloat16Value(b)
	}
}

// NonFinite reports whether any of the binary16 bits src is Inf or NaN (all
// exponent bits set). It tests four halves per 64-bit step: adding 0x0400 to a
// lane's exponent field carries into its sign bit only from 0x7c00.
func NonFinite(src []uint16) bool {
	var acc uint16
	i := 0
	for ; i+4 <= len(src); i += 4 {
		w := uint64(src[i]) | uint64(src[i+1])<<16 | uint64(src[i+2])<<32 | uint64(src[i+3])<<48
		if (w&0x7c007c007c007c00+0x0400040004000400)&0x8000800080008000 != 0 {
			return true
		}
	}
	for _, h := range src[i:] {
		acc |= (h&0x7c00 + 0x0400) & 0x8000
	}
	return acc != 0
}
