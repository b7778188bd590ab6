package backend

import (
	"fmt"
	"strings"
)

// DType is the element type a tensor stores. Arithmetic is float32 whatever the
// storage: half-precision tensors are converted as they are read and rounded
// (to nearest, ties to even) as they are written.
type DType int

const (
	// Float32 is IEEE binary32, the type of every tensor unless asked otherwise.
	Float32 DType = iota
	// Float16 is IEEE binary16 (half), stored as 16-bit patterns: K/V caches and weights.
	Float16
	// BFloat16 is the upper half of a binary32 (8-bit exponent, 7-bit fraction): weights.
	BFloat16
)

// String is "f32", "f16" or "bf16".
func (d DType) String() string {
	switch d {
	case Float32:
		return "f32"
	case Float16:
		return "f16"
	case BFloat16:
		return "bf16"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size is the number of bytes of one element (0 for an unknown dtype).
func (d DType) Size() int {
	switch d {
	case Float32:
		return 4
	case Float16, BFloat16:
		return 2
	}
	return 0
}

// Valid reports whether d is one of the dtypes above.
func (d DType) Valid() bool { return d >= Float32 && d <= BFloat16 }

// ParseDType reads "f32"/"float32", "f16"/"float16"/"half" or "bf16"/"bfloat16"
// (any case).
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f32", "float32", "float":
		return Float32, nil
	case "f16", "float16", "half", "fp16":
		return Float16, nil
	case "bf16", "bfloat16":
		return BFloat16, nil
	}
	return 0, fmt.Errorf("dtype %q: %w: want f32, f16 or bf16", s, ErrArgument)
}

// CheckDType verifies that t (which may be nil: an optional operand) stores
// one of the allowed dtypes; otherwise the ErrArgument names op, the operand,
// its shape and dtype and what is accepted.
func CheckDType(op, name string, t Tensor, allowed ...DType) error {
	if t == nil {
		return nil
	}
	got := t.DType()
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	want := make([]string, len(allowed))
	for i, a := range allowed {
		want[i] = a.String()
	}
	return ArgumentErrorf(op, "%s is %v %v, want %s", name, got, t.Shape(), strings.Join(want, " or "))
}

// CheckUploadDType verifies the dtype of AllocAs, UploadAs (any valid dtype)
// or UploadBits (half dtypes only: bits).
func CheckUploadDType(op string, d DType, bits bool) error {
	if !d.Valid() {
		return ArgumentErrorf(op, "unknown dtype %v", d)
	}
	if bits && d == Float32 {
		return ArgumentErrorf(op, "16-bit patterns for an f32 tensor, want f16 or bf16 (use Upload for f32)")
	}
	return nil
}
