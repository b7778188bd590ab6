package gpu

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
)

// Errors of package gpu (test with errors.Is).
var (
	// ErrNoDevice marks a Selector or DeviceInfo that matches no OpenCL device.
	ErrNoDevice = errors.New("no matching OpenCL device")
	// ErrTooLarge marks an allocation larger than the device's largest buffer
	// (MaxAlloc) or its memory (GlobalMem), or with more elements than a kernel
	// can index; it is refused before OpenCL is asked. It is backend.ErrTooLarge.
	ErrTooLarge = backend.ErrTooLarge
)

// Tensor is a float32 array in device memory. A tensor with zero elements has
// no buffer.
type Tensor struct {
	dev      *Device
	shape    backend.Shape
	mem      *cl.Mem
	released bool // guarded by dev.mu
}

// Shape is the tensor's shape (a copy); nil for a nil *Tensor.
func (t *Tensor) Shape() backend.Shape {
	if t == nil {
		return nil
	}
	return slices.Clone(t.shape)
}

// DType is the element type the tensor stores (float32 only so far on OpenCL).
func (t *Tensor) DType() backend.DType { return backend.Float32 }

// Release frees the device memory; it is idempotent, and a no-op after the
// device is closed (Close has released it).
func (t *Tensor) Release() error {
	t.dev.mu.Lock()
	defer t.dev.mu.Unlock()
	if t.released {
		return nil
	}
	delete(t.dev.tensors, t)
	if err := t.releaseLocked(); err != nil {
		return t.dev.wrap("Release", err)
	}
	return nil
}

// releaseLocked frees the buffer; the caller holds dev.mu.
func (t *Tensor) releaseLocked() error {
	t.released = true
	if t.mem == nil {
		return nil
	}
	return t.mem.Release()
}

// newTensor allocates a tensor of shape; zero says whether to zero-fill it.
// Sizes are checked against the device before OpenCL is called.
func (d *Device) newTensor(op string, shape []int, zero bool) (*Tensor, error) {
	n, err := backend.CheckShape(op, shape, math.MaxInt32) // kernels index with a cl_int
	if err != nil {
		return nil, fmt.Errorf("gpu: %s: %w", d.name, err) // err names op already
	}
	t := &Tensor{dev: d, shape: append(backend.Shape(nil), shape...)}
	if n > 0 {
		size := 4 * int64(n)
		if size > d.info.MaxAlloc || size > d.info.GlobalMem {
			return nil, d.wrap(op, fmt.Errorf("%w: %v needs %d bytes; largest buffer %d, device memory %d",
				ErrTooLarge, t.shape, size, d.info.MaxAlloc, d.info.GlobalMem))
		}
		mem, err := d.drv.createBuffer(d.ctx, int(size))
		if err != nil {
			return nil, d.wrap(op, err)
		}
		if zero {
			if err := d.drv.zero(d.queue, mem); err != nil {
				_ = mem.Release()
				return nil, d.wrap(op, err)
			}
		}
		t.mem = mem
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tensors[t] = struct{}{}
	return t, nil
}

// Alloc returns a zero-filled tensor of the given shape.
func (d *Device) Alloc(shape ...int) (backend.Tensor, error) {
	const op = "Alloc"
	if err := d.enter(op); err != nil {
		return nil, err
	}
	defer d.life.RUnlock()
	return d.newTensor(op, shape, true)
}

// AllocAs returns a zero-filled tensor of the given dtype; only float32 so far.
func (d *Device) AllocAs(dtype backend.DType, shape ...int) (backend.Tensor, error) {
	if err := float32Only("AllocAs", dtype); err != nil {
		return nil, err
	}
	return d.Alloc(shape...)
}

// UploadAs converts data into a new tensor of the given dtype; only float32 so far.
func (d *Device) UploadAs(dtype backend.DType, data []float32, shape ...int) (backend.Tensor, error) {
	if err := float32Only("UploadAs", dtype); err != nil {
		return nil, err
	}
	return d.Upload(data, shape...)
}

// UploadBits copies 16-bit patterns into a new half tensor: not supported on OpenCL yet.
func (d *Device) UploadBits(dtype backend.DType, bits []uint16, shape ...int) (backend.Tensor, error) {
	const op = "UploadBits"
	if err := backend.CheckUploadDType(op, dtype, true); err != nil {
		return nil, err
	}
	return nil, float32Only(op, dtype)
}

// float32Only refuses the dtypes this backend cannot store yet.
func float32Only(op string, dtype backend.DType) error {
	if err := backend.CheckUploadDType(op, dtype, false); err != nil {
		return err
	}
	if dtype != backend.Float32 {
		return backend.ArgumentErrorf(op, "%v tensors are not supported on OpenCL yet", dtype)
	}
	return nil
}

// Upload copies data (row-major) into a new tensor of the given shape.
func (d *Device) Upload(data []float32, shape ...int) (backend.Tensor, error) {
	const op = "Upload"
	if err := d.enter(op); err != nil {
		return nil, err
	}
	defer d.life.RUnlock()
	n, err := backend.CheckShape(op, shape, math.MaxInt32)
	if err != nil {
		return nil, fmt.Errorf("gpu: %s: %w", d.name, err)
	}
	if n != len(data) {
		return nil, backend.ShapeErrorf(op, "%d values for shape %v (%d elements)", len(data), backend.Shape(shape), n)
	}
	t, err := d.newTensor(op, shape, false)
	if err != nil {
		return nil, err
	}
	if t.mem != nil {
		if err := d.drv.write(d.queue, t.mem, data); err != nil {
			_ = t.Release()
			return nil, d.wrapLate(op, err)
		}
	}
	return t, nil
}

// Download copies t into dst, waiting for every operation queued before it.
// An error of an earlier kernel that surfaces here names that kernel.
func (d *Device) Download(dst []float32, t backend.Tensor) error {
	const op = "Download"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	if err := d.checkTensors(op, t); err != nil {
		return err
	}
	g := asTensor(t)
	if g == nil {
		return backend.NoTensorError(op, "t")
	}
	if n := g.shape.Numel(); n != len(dst) {
		return backend.ShapeErrorf(op, "dst has %d values, tensor %v has %d", len(dst), g.shape, n)
	}
	if g.mem == nil {
		return d.wrapLate(op, d.drv.finish(d.queue))
	}
	return d.wrapLate(op, d.drv.read(d.queue, g.mem, dst))
}

// WriteKV writes K/V rows into a cache: not supported on OpenCL yet (the
// call is checked, so a bad one fails as on every backend).
func (d *Device) WriteKV(cache backend.Tensor, src backend.Heads, pos int) error {
	const op = "WriteKV"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	if _, err := backend.CheckWriteKV(cache, src, pos); err != nil {
		return err
	}
	return backend.ArgumentErrorf(op, "not supported on OpenCL yet")
}
