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

// Tensor is an array of one dtype in device memory: float32, or float16 and
// bfloat16 stored as 16-bit values that kernels convert as they read (vload_half,
// a shift for bfloat16). A tensor with zero elements has no buffer.
type Tensor struct {
	dev      *Device
	shape    backend.Shape
	dtype    backend.DType
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

// DType is the element type the tensor stores.
func (t *Tensor) DType() backend.DType { return t.dtype }

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

// newTensor allocates a float32 tensor of shape; zero says whether to zero-fill it.
func (d *Device) newTensor(op string, shape []int, zero bool) (*Tensor, error) {
	return d.newTensorAs(op, backend.Float32, shape, zero)
}

// newTensorAs allocates a tensor of dtype and shape; zero says whether to
// zero-fill it. Sizes are checked against the device before OpenCL is called.
// A 16-bit buffer is rounded up to whole 4 bytes, the fill pattern's size.
func (d *Device) newTensorAs(op string, dtype backend.DType, shape []int, zero bool) (*Tensor, error) {
	n, err := backend.CheckShape(op, shape, math.MaxInt32) // kernels index with a cl_int
	if err != nil {
		return nil, fmt.Errorf("gpu: %s: %w", d.name, err) // err names op already
	}
	t := &Tensor{dev: d, shape: append(backend.Shape(nil), shape...), dtype: dtype}
	if n > 0 {
		size := int64(roundUp(dtype.Size()*n, 4))
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

// AllocAs returns a zero-filled tensor of the given dtype and shape.
func (d *Device) AllocAs(dtype backend.DType, shape ...int) (backend.Tensor, error) {
	const op = "AllocAs"
	if err := backend.CheckUploadDType(op, dtype, false); err != nil {
		return nil, err
	}
	if err := d.enter(op); err != nil {
		return nil, err
	}
	defer d.life.RUnlock()
	return d.newTensorAs(op, dtype, shape, true)
}

// UploadAs converts data into a new tensor of the given dtype: float32 copied
// exactly, float16 and bfloat16 rounded to nearest, ties to even, on the host
// (backend.Float16Bits, backend.BFloat16Bits), then copied as 16-bit values.
func (d *Device) UploadAs(dtype backend.DType, data []float32, shape ...int) (backend.Tensor, error) {
	const op = "UploadAs"
	if err := backend.CheckUploadDType(op, dtype, false); err != nil {
		return nil, err
	}
	if dtype == backend.Float32 {
		return d.upload(op, data, shape)
	}
	n, err := backend.CheckShape(op, shape, math.MaxInt32)
	if err != nil {
		return nil, fmt.Errorf("gpu: %s: %w", d.name, err)
	}
	if n != len(data) { // checked before converting or allocating
		return nil, backend.ShapeErrorf(op, "%d values for shape %v (%d elements)", len(data), backend.Shape(shape), n)
	}
	bits := make([]uint16, len(data))
	backend.EncodeBits(bits, data, dtype)
	return d.uploadBits(op, dtype, bits, shape)
}

// UploadBits copies 16-bit patterns (binary16 or bfloat16) into a new tensor
// of that dtype, unchanged.
func (d *Device) UploadBits(dtype backend.DType, bits []uint16, shape ...int) (backend.Tensor, error) {
	const op = "UploadBits"
	if err := backend.CheckUploadDType(op, dtype, true); err != nil {
		return nil, err
	}
	return d.uploadBits(op, dtype, bits, shape)
}

// uploadBits makes a 16-bit tensor of dtype holding bits.
func (d *Device) uploadBits(op string, dtype backend.DType, bits []uint16, shape []int) (backend.Tensor, error) {
	return uploadAs(d, op, dtype, bits, shape, d.drv.write16)
}

// Upload copies data (row-major) into a new float32 tensor of the given shape.
func (d *Device) Upload(data []float32, shape ...int) (backend.Tensor, error) {
	return d.upload("Upload", data, shape)
}

// upload makes a float32 tensor holding data; op names the caller.
func (d *Device) upload(op string, data []float32, shape []int) (backend.Tensor, error) {
	return uploadAs(d, op, backend.Float32, data, shape, d.drv.write)
}

// uploadAs makes a tensor of dtype and shape holding data, which write copies
// to the device (float32 values or 16-bit patterns); op names the caller.
func uploadAs[T float32 | uint16](d *Device, op string, dtype backend.DType, data []T, shape []int,
	write func(*cl.CommandQueue, *cl.Mem, []T) error) (backend.Tensor, error) {
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
	t, err := d.newTensorAs(op, dtype, shape, false)
	if err != nil {
		return nil, err
	}
	if t.mem != nil {
		if err := write(d.queue, t.mem, data); err != nil {
			_ = t.Release()
			return nil, d.wrapLate(op, err)
		}
	}
	return t, nil
}

// Write copies data into dst after the work queued before it: float32 exactly,
// float16 and bfloat16 rounded to nearest even on the host, as UploadAs.
func (d *Device) Write(dst backend.Tensor, data []float32) error {
	const op = "Write"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	g, err := d.hostCopy(op, "dst", dst, len(data))
	if err != nil {
		return err
	}
	if g.mem == nil {
		return nil
	}
	if g.dtype == backend.Float32 {
		return d.wrapLate(op, d.drv.write(d.queue, g.mem, data))
	}
	bits := make([]uint16, len(data))
	backend.EncodeBits(bits, data, g.dtype)
	return d.wrapLate(op, d.drv.write16(d.queue, g.mem, bits))
}

// hostCopy validates t, the tensor called name of a copy of n values to or
// from the host (Write, Download).
func (d *Device) hostCopy(op, name string, t backend.Tensor, n int) (*Tensor, error) {
	if err := d.checkTensors(op, t); err != nil {
		return nil, err
	}
	g := asTensor(t)
	if g == nil {
		return nil, backend.NoTensorError(op, name)
	}
	return g, backend.CheckHostCopy(op, name, t, n)
}

// Download copies t into dst, waiting for every operation queued before it; a
// float16 or bfloat16 tensor is read as 16-bit values and converted exactly.
// An error of an earlier kernel that surfaces here names that kernel.
func (d *Device) Download(dst []float32, t backend.Tensor) error {
	const op = "Download"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	g, err := d.hostCopy(op, "t", t, len(dst))
	if err != nil {
		return err
	}
	if g.mem == nil {
		return d.wrapLate(op, d.drv.finish(d.queue))
	}
	if g.dtype == backend.Float32 {
		return d.wrapLate(op, d.drv.read(d.queue, g.mem, dst))
	}
	bits := make([]uint16, len(dst))
	if err := d.drv.read16(d.queue, g.mem, bits); err != nil {
		return d.wrapLate(op, err)
	}
	backend.DecodeBits(dst, bits, g.dtype)
	return nil
}
