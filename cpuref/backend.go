package cpuref

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/clattn/clattn/backend"
)

// Backend is the pure-Go backend. Its zero value is not usable; call New.
// It is safe for concurrent use; operations run synchronously on the calling
// goroutine and the goroutines it starts.
type Backend struct {
	closed atomic.Bool
}

// New returns a pure-Go backend using all cores (GOMAXPROCS).
func New() *Backend { return &Backend{} }

var _ backend.Backend = (*Backend)(nil)

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Close marks the backend closed: every later operation returns backend.ErrReleased.
// It is idempotent. Memory of its tensors is freed by the garbage collector.
func (b *Backend) Close() error {
	b.closed.Store(true)
	return nil
}

// Tensor is an array in host memory with a shape and a dtype, made by a
// Backend: float32 elements, or 16-bit patterns of Float16 or BFloat16 values.
type Tensor struct {
	owner    *Backend
	shape    backend.Shape
	dtype    backend.DType
	data     []float32 // Float32 storage
	bits     []uint16  // Float16 and BFloat16 storage
	released atomic.Bool
}

// Shape returns the dimensions; the caller must not modify it.
func (t *Tensor) Shape() backend.Shape {
	if t == nil {
		return nil
	}
	return t.shape[:len(t.shape):len(t.shape)]
}

// DType is the element type the tensor stores.
func (t *Tensor) DType() backend.DType {
	if t == nil {
		return backend.Float32
	}
	return t.dtype
}

// Data returns the elements of a float32 tensor in row-major order, without
// copying: writes to it change the tensor. It is nil after Release and for
// Float16 or BFloat16 tensors (see Bits).
func (t *Tensor) Data() []float32 {
	if t == nil || t.released.Load() {
		return nil
	}
	return t.data
}

// Bits returns the 16-bit patterns of a Float16 or BFloat16 tensor in row-major
// order, without copying. It is nil after Release and for float32 tensors.
func (t *Tensor) Bits() []uint16 {
	if t == nil || t.released.Load() {
		return nil
	}
	return t.bits
}

// Release drops the tensor's memory; it is idempotent.
func (t *Tensor) Release() error {
	if t == nil || t.released.Swap(true) {
		return nil
	}
	t.data, t.bits = nil, nil
	return nil
}

// limit is the largest element count of a tensor of dtype d: maxElements is
// counted in float32s.
func limit(d backend.DType) int { return maxElements / d.Size() * 4 }

// hugePageBytes is the size of a transparent huge page (Linux on x86-64, and
// arm64 with 4 KiB base pages); hugeTensorBytes is the size from which a
// tensor's memory is advised to be backed by them (adviseHugePages): two, so
// that at least one whole huge page lies inside it.
const (
	hugePageBytes   = 2 << 20
	hugeTensorBytes = 2 * hugePageBytes
)

// storage is the address of t's first element (t holds at least one).
func (t *Tensor) storage() unsafe.Pointer {
	if t.data != nil {
		return unsafe.Pointer(&t.data[0])
	}
	return unsafe.Pointer(&t.bits[0])
}

func (b *Backend) newTensor(op string, d backend.DType, shape []int) (*Tensor, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("%s: %w: backend is closed", op, backend.ErrReleased)
	}
	n, err := backend.CheckShape(op, shape, limit(d))
	if err != nil {
		return nil, err
	}
	t := &Tensor{owner: b, shape: backend.Shape(append([]int(nil), shape...)), dtype: d}
	if d == backend.Float32 {
		t.data = make([]float32, n)
	} else {
		t.bits = make([]uint16, n)
	}
	if bytes := n * d.Size(); bytes >= hugeTensorBytes {
		adviseHugePages(t.storage(), bytes)
	}
	return t, nil
}

// Alloc returns a zero-filled float32 tensor of the given shape.
func (b *Backend) Alloc(shape ...int) (backend.Tensor, error) {
	return b.AllocAs(backend.Float32, shape...)
}

// AllocAs returns a zero-filled tensor of the given dtype and shape.
func (b *Backend) AllocAs(dtype backend.DType, shape ...int) (backend.Tensor, error) {
	const op = "AllocAs"
	if err := backend.CheckUploadDType(op, dtype, false); err != nil {
		return nil, err
	}
	t, err := b.newTensor(op, dtype, shape)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Upload copies data into a new float32 tensor of the given shape.
func (b *Backend) Upload(data []float32, shape ...int) (backend.Tensor, error) {
	return b.upload("Upload", backend.Float32, data, nil, shape)
}

// UploadAs converts data into a new tensor of the given dtype, rounding to
// nearest even.
func (b *Backend) UploadAs(dtype backend.DType, data []float32, shape ...int) (backend.Tensor, error) {
	if err := backend.CheckUploadDType("UploadAs", dtype, false); err != nil {
		return nil, err
	}
	return b.upload("UploadAs", dtype, data, nil, shape)
}

// UploadBits copies 16-bit patterns into a new Float16 or BFloat16 tensor.
func (b *Backend) UploadBits(dtype backend.DType, bits []uint16, shape ...int) (backend.Tensor, error) {
	if err := backend.CheckUploadDType("UploadBits", dtype, true); err != nil {
		return nil, err
	}
	return b.upload("UploadBits", dtype, nil, bits, shape)
}

// upload makes a tensor of dtype d from data (float32 values) or bits (16-bit patterns).
func (b *Backend) upload(op string, d backend.DType, data []float32, bits []uint16, shape []int) (backend.Tensor, error) {
	n, err := backend.CheckShape(op, shape, limit(d))
	if err != nil {
		return nil, err
	}
	have := len(data)
	if bits != nil {
		have = len(bits)
	}
	if have != n { // checked before allocating: a huge shape with little data allocates nothing
		return nil, backend.ShapeErrorf(op, "%d values for shape %v (%d elements)", have, backend.Shape(shape), n)
	}
	t, err := b.newTensor(op, d, shape)
	if err != nil {
		return nil, err
	}
	switch {
	case bits != nil:
		copy(t.bits, bits)
	case d == backend.Float32:
		copy(t.data, data)
	default:
		backend.EncodeBits(t.bits, data, d)
	}
	return t, nil
}

// Download copies t (of any dtype, converted exactly to float32) into dst.
func (b *Backend) Download(dst []float32, t backend.Tensor) error {
	c, err := b.hostCopy("Download", "t", t, len(dst))
	if err != nil {
		return err
	}
	if c.dtype == backend.Float32 {
		copy(dst, c.data)
		return nil
	}
	backend.DecodeBits(dst, c.bits, c.dtype)
	return nil
}

// Write copies data into dst, converted to its dtype (float16 and bfloat16
// rounded to nearest even).
func (b *Backend) Write(dst backend.Tensor, data []float32) error {
	c, err := b.hostCopy("Write", "dst", dst, len(data))
	if err != nil {
		return err
	}
	if c.dtype == backend.Float32 {
		copy(c.data, data)
		return nil
	}
	backend.EncodeBits(c.bits, data, c.dtype)
	return nil
}

// hostCopy validates t, the tensor called name of a copy of n values to or
// from the host.
func (b *Backend) hostCopy(op, name string, t backend.Tensor, n int) (*Tensor, error) {
	if err := b.open(op); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, backend.NoTensorError(op, name)
	}
	c, err := b.tensor(op, name, t)
	if err != nil {
		return nil, err
	}
	return c, backend.CheckHostCopy(op, name, t, n)
}

// open returns ErrReleased once the backend is closed.
func (b *Backend) open(op string) error {
	if b.closed.Load() {
		return fmt.Errorf("%s: %w: backend is closed", op, backend.ErrReleased)
	}
	return nil
}

// binding names a tensor argument of an operation and where its storage goes.
type binding struct {
	name string
	t    backend.Tensor
	dst  *[]float32
}

// bind sets each binding's dst to its tensor's storage (nil for a nil tensor),
// in order, or returns the first error (a foreign or released tensor).
func (b *Backend) bind(op string, bs ...binding) error {
	for _, x := range bs {
		d, err := b.data(op, x.name, x.t)
		if err != nil {
			return err
		}
		*x.dst = d
	}
	return nil
}

// data returns the elements of the float32 tensor t after checking that b made
// it and that it is not released; a nil t gives a nil slice (optional tensors).
func (b *Backend) data(op, name string, t backend.Tensor) ([]float32, error) {
	if t == nil {
		return nil, nil
	}
	c, err := b.tensor(op, name, t)
	if err != nil {
		return nil, err
	}
	if c.dtype != backend.Float32 { // the shared checks let only K/V and Gemm's b be halves
		return nil, backend.ArgumentErrorf(op, "%s is %v %v, want f32", name, c.dtype, c.shape)
	}
	return c.data, nil
}

// tensor returns t as a *Tensor after checking that b made it and that it is
// not released.
func (b *Backend) tensor(op, name string, t backend.Tensor) (*Tensor, error) {
	c, ok := t.(*Tensor)
	if !ok || c == nil {
		if ok {
			return nil, backend.NoTensorError(op, name)
		}
		return nil, fmt.Errorf("%s: %s: %w (%T)", op, name, backend.ErrForeignTensor, t)
	}
	if c.owner != b {
		return nil, fmt.Errorf("%s: %s: %w (another cpuref.Backend)", op, name, backend.ErrForeignTensor)
	}
	if c.released.Load() {
		return nil, fmt.Errorf("%s: %s: %w", op, name, backend.ErrReleased)
	}
	return c, nil
}
