package cl

import (
	"runtime"
	"unsafe"
)

// Context is an OpenCL context over one or more devices.
type Context struct{ object }

// CreateContext creates a context for devices (all of one platform).
func CreateContext(devices []*Device) (*Context, error) {
	a, err := lib()
	if err != nil {
		return nil, err
	}
	if len(devices) == 0 {
		return nil, call("clCreateContext", ErrInvalidValue.Code)
	}
	ids := make([]uintptr, len(devices))
	for i, d := range devices {
		ids[i] = d.id
	}
	var status int32
	id := a.createContext(nil, uint32(len(ids)), unsafe.Pointer(&ids[0]), 0, 0, unsafe.Pointer(&status))
	runtime.KeepAlive(ids)
	if err := call("clCreateContext", status); err != nil {
		return nil, err
	}
	c := &Context{}
	c.init(kindContext, id)
	return c, nil
}

// Release releases the context; it is idempotent.
func (c *Context) Release() error {
	a, err := lib()
	if err != nil {
		return err
	}
	return c.release(a.releaseContext, "clReleaseContext")
}

// queueProfilingEnable is CL_QUEUE_PROFILING_ENABLE.
const queueProfilingEnable uint64 = 1 << 1

// CreateCommandQueue creates an in-order queue on device; with profiling the
// events of its commands carry timestamps (Event.Profile).
func (c *Context) CreateCommandQueue(device *Device, profiling bool) (*CommandQueue, error) {
	const fn = "clCreateCommandQueue"
	a, err := lib()
	if err != nil {
		return nil, err
	}
	ctx, err := c.check(fn, ErrInvalidContext)
	if err != nil {
		return nil, err
	}
	var props uint64
	if profiling {
		props |= queueProfilingEnable
	}
	var status int32
	id := a.createQueue(ctx, device.id, props, unsafe.Pointer(&status))
	if err := call(fn, status); err != nil {
		return nil, err
	}
	q := &CommandQueue{}
	q.init(kindQueue, id)
	return q, nil
}

// MemFlags are cl_mem_flags.
type MemFlags uint64

// Buffer flags.
const (
	MemReadWrite MemFlags = 1 << 0
	MemWriteOnly MemFlags = 1 << 1
	MemReadOnly  MemFlags = 1 << 2
)

// CreateBuffer allocates size bytes of device memory (size must be > 0).
func (c *Context) CreateBuffer(flags MemFlags, size int) (*Mem, error) {
	const fn = "clCreateBuffer"
	a, err := lib()
	if err != nil {
		return nil, err
	}
	ctx, err := c.check(fn, ErrInvalidContext)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, call(fn, ErrInvalidBufferSize.Code)
	}
	var status int32
	id := a.createBuffer(ctx, uint64(flags), uintptr(size), nil, unsafe.Pointer(&status))
	if err := call(fn, status); err != nil {
		return nil, err
	}
	m := &Mem{size: size}
	m.init(kindMem, id)
	return m, nil
}

// Mem is a device buffer.
type Mem struct {
	object
	size int
}

// Size is the buffer's size in bytes.
func (m *Mem) Size() int { return m.size }

// Release frees the buffer; it is idempotent.
func (m *Mem) Release() error {
	a, err := lib()
	if err != nil {
		return err
	}
	return m.release(a.releaseMem, "clReleaseMemObject")
}
