package backend

import "math"

// Conversions between float32 and the 16-bit storage formats, in a few lines of
// bit arithmetic (exact, no tables): a half or bfloat16 value is always exactly
// a float32, and float32 rounds to either with round-to-nearest, ties to even,
// as PyTorch's .half() and .bfloat16() do. NaN stays NaN (quiet, sign kept).

// Float16Bits rounds f to the nearest IEEE binary16 (ties to even) and returns
// its bit pattern. Magnitudes from 65520 up become Inf; below 2^-25 they become
// (signed) zero; between, subnormal halves are produced.
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	abs := b & 0x7fffffff
	switch {
	case abs > 0x7f800000: // NaN: keep the top fraction bits, set the quiet bit
		return sign | 0x7e00 | uint16(abs>>13)&0x3ff
	case abs >= 0x477ff000: // 65520 (halfway above the largest half 65504, ties to even) and Inf
		return sign | 0x7c00
	case abs >= 0x38800000: // a normal half: rebias the exponent (127-15), round 13 fraction bits
		v := abs - 0x38000000
		v += 0xfff + (v>>13)&1
		return sign | uint16(v>>13)
	case abs < 0x33000000: // below 2^-25, at most half the smallest subnormal: zero
		return sign
	}
	// A subnormal half: m * 2^-24 with m = value / 2^-24 rounded.
	e := abs >> 23
	m := abs&0x7fffff | 0x800000
	shift := 126 - e // 14 ... 24
	r := m >> shift
	rem, half := m&(1<<shift-1), uint32(1)<<(shift-1)
	if rem > half || rem == half && r&1 == 1 {
		r++ // may carry into the smallest normal, 0x400, which is right
	}
	return sign | uint16(r)
}

// Float16Value is the float32 holding exactly the binary16 value of bits h.
func Float16Value(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	e := uint32(h>>10) & 0x1f
	m := uint32(h & 0x3ff)
	switch e {
	case 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0x7f800000 | m<<13)
	case 0: // zero, subnormal: m * 2^-24, exact in float32
		v := float32(m) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	}
	return math.Float32frombits(sign | (e+112)<<23 | m<<13)
}

// BFloat16Bits rounds f to the nearest bfloat16 (ties to even) and returns its
// bit pattern; values beyond the largest bfloat16 become Inf.
func BFloat16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // NaN: keep it quiet
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BFloat16Value is the float32 holding exactly the bfloat16 value of bits b.
func BFloat16Value(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// RoundTo returns x rounded to dtype d and read back as float32: the value a
// tensor of that dtype stores for x (x itself for Float32).
func RoundTo(d DType, x float32) float32 {
	switch d {
	case Float16:
		return Float16Value(Float16Bits(x))
	case BFloat16:
		return BFloat16Value(BFloat16Bits(x))
	}
	return x
}

// EncodeBits rounds src into dst (at least as long) as 16-bit patterns of
// dtype d (Float16 or BFloat16), to nearest, ties to even.
func EncodeBits(dst []uint16, src []float32, d DType) {
	dst = dst[:len(src)]
	if d == BFloat16 {
		for i, x := range src {
			dst[i] = BFloat16Bits(x)
		}
		return
	}
	for i, x := range src {
		dst[i] = Float16Bits(x)
	}
}

// DecodeBits converts the 16-bit patterns of dtype d (Float16 or BFloat16) in
// src exactly into dst (at least as long).
func DecodeBits(dst []float32, src []uint16, d DType) {
	dst = dst[:len(src)]
	if d == BFloat16 {
		for i, h := range src {
			dst[i] = BFloat16Value(h)
		}
		return
	}
	for i, h := range src {
		dst[i] = Float16Value(h)
	}
}
