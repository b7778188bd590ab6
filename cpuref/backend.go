package cpuref

import (
	"fmt"
	"sync/atomic"

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

// Tensor is a float32 array in host memory with a shape, made by a Backend.
type Tensor struct {
	owner    *Backend
	shape    backend.Shape
	data     []float32
	released atomic.Bool
}

// Shape returns the dimensions; the caller must not modify it.
func (t *Tensor) Shape() backend.Shape {
	if t == nil {
		return nil
	}
	return t.shape[:len(t.shape):len(t.shape)]
}

// Data returns the tensor's elements in row-major order, without copying: writes
// to it change the tensor. It is nil after Release.
func (t *Tensor) Data() []float32 {
	if t == nil || t.released.Load() {
		return nil
	}
	return t.data
}

// Release drops the tensor's memory; it is idempotent.
func (t *Tensor) Release() error {
	if t == nil || t.released.Swap(true) {
		return nil
	}
	t.data = nil
	return nil
}

func (b *Backend) newTensor(op string, shape []int) (*Tensor, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("%s: %w: backend is closed", op, backend.ErrReleased)
	}
	n, err := backend.CheckShape(op, shape, maxElements)
	if err != nil {
		return nil, err
	}
	s := backend.Shape(append([]int(nil), shape...))
	return &Tensor{owner: b, shape: s, data: make([]float32, n)}, nil
}

// Alloc returns a zero-filled tensor of the given shape.
func (b *Backend) Alloc(shape ...int) (backend.Tensor, error) {
	t, err := b.newTensor("Alloc", shape)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Upload copies data into a new tensor of the given shape.
func (b *Backend) Upload(data []float32, shape ...int) (backend.Tensor, error) {
	n, err := backend.CheckShape("Upload", shape, maxElements)
	if err != nil {
		return nil, err
	}
	if len(data) != n { // checked before allocating: a huge shape with little data allocates nothing
		return nil, backend.ShapeErrorf("Upload", "%d values for shape %v (%d elements)", len(data), backend.Shape(shape), n)
	}
	t, err := b.newTensor("Upload", shape)
	if err != nil {
		return nil, err
	}
	copy(t.data, data)
	return t, nil
}

// Download copies t into dst.
func (b *Backend) Download(dst []float32, t backend.Tensor) error {
	const op = "Download"
	if err := b.open(op); err != nil {
		return err
	}
	if t == nil {
		return backend.NoTensorError(op, "t")
	}
	src, err := b.data(op, "t", t)
	if err != nil {
		return err
	}
	if len(dst) != len(src) {
		return backend.ShapeErrorf(op, "dst has %d elements, tensor %v has %d", len(dst), t.Shape(), len(src))
	}
	copy(dst, src)
	return nil
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

// data returns the elements of t after checking that b made it and that it is
// not released; a nil t gives a nil slice (optional tensors).
func (b *Backend) data(op, name string, t backend.Tensor) ([]float32, error) {
	if t == nil {
		return nil, nil
	}
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
	return c.data, nil
}
