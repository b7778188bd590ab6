package model

import (
	"encoding/binary"
	"errors"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/safetensors"
)

// hostWeight is a weight in host memory as a checkpoint stores it: float32
// values, or the 16-bit patterns of float16 or bfloat16 ones (kept as they are,
// so that they reach the device, or an embedding lookup, unrounded).
type hostWeight struct {
	dtype backend.DType
	f32   []float32 // Float32
	bits  []uint16  // Float16, BFloat16
	shape []int
}

// host reads weight prefix+name of the given shape and a float dtype; a
// problem is recorded and nil returned otherwise.
func (l loader) host(name string, shape ...int) *hostWeight {
	full := l.prefix + name
	t := l.w.byName[full]
	if t == nil || (t.DType != safetensors.F16 && t.DType != safetensors.BF16) {
		data := l.floats(name, shape...) // records what is wrong, or converts F32/F64
		if data == nil {
			return nil
		}
		return &hostWeight{dtype: backend.Float32, f32: data, shape: shape}
	}
	l.used[full] = true
	if !backend.Shape(t.Shape).Equal(shape) {
		l.problemf("%s is %v, want %v", full, backend.Shape(t.Shape), backend.Shape(shape))
		return nil
	}
	bits := make([]uint16, t.Numel())
	if len(t.Data) != 2*len(bits) {
		l.problemf("%s: %s %v has %d bytes, want %d", full, t.DType, backend.Shape(t.Shape), len(t.Data), 2*len(bits))
		return nil
	}
	for i := range bits {
		bits[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
	}
	d := backend.Float16
	if t.DType == safetensors.BF16 {
		d = backend.BFloat16
	}
	return &hostWeight{dtype: d, bits: bits, shape: shape}
}

// float32s returns the values as float32 (exactly).
func (w *hostWeight) float32s() []float32 {
	if w.dtype == backend.Float32 {
		return w.f32
	}
	out := make([]float32, len(w.bits))
	w.decode(out, 0)
	return out
}

// decode converts len(dst) values starting at element from into dst.
func (w *hostWeight) decode(dst []float32, from int) {
	switch w.dtype {
	case backend.Float32:
		copy(dst, w.f32[from:])
	case backend.BFloat16:
		for i, b := range w.bits[from : from+len(dst)] {
			dst[i] = backend.BFloat16Value(b)
		}
	default:
		for i, b := range w.bits[from : from+len(dst)] {
			dst[i] = backend.Float16Value(b)
		}
	}
}

// gather returns the rows ids (each row of ids has n entries, already checked
// against the vocabulary) of the [V, E] table w, as a [len(ids), n, E] array.
func (w *hostWeight) gather(ids [][]int, n int) []float32 {
	e := w.shape[1]
	out := make([]float32, len(ids)*n*e)
	for r, row := range ids {
		for s, id := range row {
			w.decode(out[(r*n+s)*e:][:e], id*e)
		}
	}
	return out
}

// concatRows stacks weights along their first dimension (q, k and v
// projections into one packed matrix), keeping a shared half dtype and
// converting to float32 otherwise; nil if any is nil (a recorded problem).
func concatRows(ws ...*hostWeight) *hostWeight {
	rows := 0
	for _, w := range ws {
		if w == nil {
			return nil
		}
		rows += w.shape[0]
	}
	out := &hostWeight{dtype: ws[0].dtype, shape: append([]int{rows}, ws[0].shape[1:]...)}
	for _, w := range ws {
		if w.dtype != out.dtype {
			out.dtype = backend.Float32
		}
	}
	for _, w := range ws {
		if out.dtype == backend.Float32 {
			out.f32 = append(out.f32, w.float32s()...)
		} else {
			out.bits = append(out.bits, w.bits...)
		}
	}
	return out
}

// uploadWeight puts w on the device in its own dtype where the backend
// stores that dtype, else as float32; nil w (a problem) gives nil.
func (l loader) uploadWeight(what string, w *hostWeight) backend.Tensor {
	if w == nil || len(l.problems) > 0 {
		return nil
	}
	if w.dtype != backend.Float32 {
		t, err := l.be.UploadBits(w.dtype, w.bits, w.shape...)
		if err == nil {
			l.uploaded = append(l.uploaded, t)
			return t
		}
		if !errors.Is(err, backend.ErrArgument) { // ErrArgument: the backend does not store this dtype
			l.problemf("uploading %s%s: %v", l.prefix, what, err)
			return nil
		}
	}
	return l.upload(what, w.float32s(), w.shape...)
}

// matrix loads the weight matrix prefix+name of the given shape onto the
// device, in its checkpoint dtype where the backend allows.
func (l loader) matrix(name string, shape ...int) backend.Tensor {
	return l.uploadWeight(name, l.host(name, shape...))
}
