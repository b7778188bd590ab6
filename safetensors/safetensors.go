// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, and the raw little-endian data.
//
// The reader is hardened against malformed and hostile files: the header length
// is capped (MaxHeaderSize) and checked against the file size before anything
// is allocated; every tensor's dtype, shape and byte range must agree; names are
// unique; the byte ranges must not overlap and must cover the data section with
// no gaps. A bad file gives an error that names the problem, never a panic, and
// no allocation is sized by the header alone (only by bytes actually present).
package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MaxHeaderSize is the largest JSON header accepted (100 MiB, as the reference
// implementation).
const MaxHeaderSize = 100 << 20

// metadataKey is the header entry that holds free-form string metadata.
const metadataKey = "__metadata__"

// ErrFormat marks a malformed or truncated file; every Parse error wraps it.
var ErrFormat = errors.New("safetensors: malformed file")

// DType is a tensor's element type as spelled in the header.
type DType string

// The element types this package reads. F16 and BF16 are read into float32.
const (
	F32  DType = "F32"
	F64  DType = "F64"
	F16  DType = "F16"
	BF16 DType = "BF16"
	U8   DType = "U8"
	// BOOL is one byte an element, 0 = false and any other value true (as
	// PyTorch writes torch.bool tensors); it reads as 0 and 1.
	BOOL DType = "BOOL"
	I64  DType = "I64"
)

// Size is the number of bytes of one element, 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case U8, BOOL:
		return 1
	case F16, BF16:
		return 2
	case F32:
		return 4
	case F64, I64:
		return 8
	}
	return 0
}

// Tensor is one named array: its dtype, shape and raw little-endian bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	// Data is the raw little-endian content, Numel()*DType.Size() bytes. For a
	// parsed file it aliases the parsed buffer.
	Data []byte
}

// Numel is the number of elements, the product of the shape (1 for a scalar).
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// check verifies that the data length matches dtype and shape.
func (t *Tensor) check() error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n, ok := numel(t.Shape, math.MaxInt/size)
	if !ok {
		return fmt.Errorf("tensor %q: shape %v has a negative dimension or too many elements", t.Name, t.Shape)
	}
	if n*size != len(t.Data) {
		return fmt.Errorf("tensor %q: %s %v needs %d bytes, has %d", t.Name, t.DType, t.Shape, n*size, len(t.Data))
	}
	return nil
}

// numel is the product of shape if every dimension is >= 0 and the product does
// not exceed limit.
func numel(shape []int, limit int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, n <= limit
}

// Float32s converts the elements to float32 (F64 and I64 are rounded; U8 gives
// 0..255, BOOL 0 or 1).
func (t *Tensor) Float32s() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	n := t.Numel()
	out := make([]float32, n)
	b := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case U8:
		for i := range out {
			out[i] = float32(b[i])
		}
	case BOOL:
		for i := range out {
			if b[i] != 0 {
				out[i] = 1
			}
		}
	case I64:
		for i := range out {
			out[i] = float32(int64(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	return out, nil
}

// Float64s converts the elements to float64 (I64 beyond 2^53 is rounded).
func (t *Tensor) Float64s() ([]float64, error) {
	if t.DType == F64 {
		if err := t.check(); err != nil {
			return nil, err
		}
		out := make([]float64, t.Numel())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	if t.DType == I64 {
		if err := t.check(); err != nil {
			return nil, err
		}
		out := make([]float64, t.Numel())
		for i := range out {
			out[i] = float64(int64(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
		return out, nil
	}
	f, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

// halfToFloat32 widens an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: frac * 2^-24.
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// FromFloat32 makes an F32 tensor of data with the given shape.
func FromFloat32(name string, data []float32, shape ...int) *Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return &Tensor{Name: name, DType: F32, Shape: shape, Data: b}
}

// FromFloat64 makes an F64 tensor of data with the given shape.
func FromFloat64(name string, data []float64, shape ...int) *Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return &Tensor{Name: name, DType: F64, Shape: shape, Data: b}
}

// FromUint8 makes a U8 tensor (a boolean mask, say) of data with the given shape.
func FromUint8(name string, data []uint8, shape ...int) *Tensor {
	return &Tensor{Name: name, DType: U8, Shape: shape, Data: append([]byte(nil), data...)}
}

// FromBool makes a BOOL tensor (1 byte an element: 1 true, 0 false) of data
// with the given shape, as PyTorch stores a torch.bool tensor.
func FromBool(name string, data []bool, shape ...int) *Tensor {
	b := make([]byte, len(data))
	for i, v := range data {
		if v {
			b[i] = 1
		}
	}
	return &Tensor{Name: name, DType: BOOL, Shape: shape, Data: b}
}

// FromInt64 makes an I64 tensor of data with the given shape.
func FromInt64(name string, data []int64, shape ...int) *Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return &Tensor{Name: name, DType: I64, Shape: shape, Data: b}
}
