package cl

import (
	"runtime"
	"unsafe"
)

// CommandQueue is an in-order OpenCL command queue.
type CommandQueue struct{ object }

// Release releases the queue; it is idempotent.
func (q *CommandQueue) Release() error {
	a, err := lib()
	if err != nil {
		return err
	}
	return q.release(a.releaseQueue, "clReleaseCommandQueue")
}

// Finish waits until every command queued so far has completed. A command that
// failed while running reports its error here (or at a later blocking read).
func (q *CommandQueue) Finish() error {
	a, err := lib()
	if err != nil {
		return err
	}
	id, err := q.check("clFinish", ErrInvalidCommandQueue)
	if err != nil {
		return err
	}
	return call("clFinish", a.finish(id))
}

// Flush submits the queued commands to the device without waiting.
func (q *CommandQueue) Flush() error {
	a, err := lib()
	if err != nil {
		return err
	}
	id, err := q.check("clFlush", ErrInvalidCommandQueue)
	if err != nil {
		return err
	}
	return call("clFlush", a.flush(id))
}

func (q *CommandQueue) handles(fn string, m *Mem) (*api, uintptr, uintptr, error) {
	a, err := lib()
	if err != nil {
		return nil, 0, 0, err
	}
	qid, err := q.check(fn, ErrInvalidCommandQueue)
	if err != nil {
		return nil, 0, 0, err
	}
	mid, err := m.check(fn, ErrInvalidMemObject)
	return a, qid, mid, err
}

// WriteFloat32 copies data into m at byte offset, blocking until the copy is
// done (so OpenCL keeps no pointer to Go memory).
func (q *CommandQueue) WriteFloat32(m *Mem, offset int, data []float32) error {
	const fn = "clEnqueueWriteBuffer"
	a, qid, mid, err := q.handles(fn, m)
	if err != nil || len(data) == 0 {
		return err
	}
	err = call(fn, a.enqueueWrite(qid, mid, 1, uintptr(offset), uintptr(4*len(data)), unsafe.Pointer(&data[0]), 0, nil, nil))
	runtime.KeepAlive(data)
	return err
}

// ReadFloat32 copies len(dst) floats from m at byte offset into dst, blocking
// until the copy and every command queued before it are done.
func (q *CommandQueue) ReadFloat32(m *Mem, offset int, dst []float32) error {
	const fn = "clEnqueueReadBuffer"
	a, qid, mid, err := q.handles(fn, m)
	if err != nil || len(dst) == 0 {
		return err
	}
	err = call(fn, a.enqueueRead(qid, mid, 1, uintptr(offset), uintptr(4*len(dst)), unsafe.Pointer(&dst[0]), 0, nil, nil))
	runtime.KeepAlive(dst)
	return err
}

// WriteUint16 copies 16-bit values (half or bfloat16 bit patterns) into m at
// byte offset, blocking until the copy is done.
func (q *CommandQueue) WriteUint16(m *Mem, offset int, data []uint16) error {
	const fn = "clEnqueueWriteBuffer"
	a, qid, mid, err := q.handles(fn, m)
	if err != nil || len(data) == 0 {
		return err
	}
	err = call(fn, a.enqueueWrite(qid, mid, 1, uintptr(offset), uintptr(2*len(data)), unsafe.Pointer(&data[0]), 0, nil, nil))
	runtime.KeepAlive(data)
	return err
}

// ReadUint16 copies len(dst) 16-bit values from m at byte offset into dst,
// blocking until the copy and every command queued before it are done.
func (q *CommandQueue) ReadUint16(m *Mem, offset int, dst []uint16) error {
	const fn = "clEnqueueReadBuffer"
	a, qid, mid, err := q.handles(fn, m)
	if err != nil || len(dst) == 0 {
		return err
	}
	err = call(fn, a.enqueueRead(qid, mid, 1, uintptr(offset), uintptr(2*len(dst)), unsafe.Pointer(&dst[0]), 0, nil, nil))
	runtime.KeepAlive(dst)
	return err
}

// FillFloat32 sets size bytes of m from byte offset to value. It uses
// clEnqueueFillBuffer where the library has it (OpenCL 1.2) and a blocking
// write otherwise.
func (q *CommandQueue) FillFloat32(m *Mem, value float32, offset, size int) error {
	const fn = "clEnqueueFillBuffer"
	a, qid, mid, err := q.handles(fn, m)
	if err != nil || size == 0 {
		return err
	}
	if a.enqueueFill == nil {
		data := make([]float32, size/4)
		for i := range data {
			data[i] = value
		}
		return q.WriteFloat32(m, offset, data)
	}
	pattern := value
	return call(fn, a.enqueueFill(qid, mid, unsafe.Pointer(&pattern), 4, uintptr(offset), uintptr(size), 0, nil, nil))
}

// EnqueueKernel enqueues k over global work items in work-groups of local
// (nil lets the driver choose). With wantEvent it returns the command's event,
// which the caller must Release; otherwise the event is nil.
func (q *CommandQueue) EnqueueKernel(k *Kernel, global, local []int, wantEvent bool) (*Event, error) {
	const fn = "clEnqueueNDRangeKernel"
	a, err := lib()
	if err != nil {
		return nil, err
	}
	qid, err := q.check(fn, ErrInvalidCommandQueue)
	if err != nil {
		return nil, err
	}
	kid, err := k.check(fn, ErrInvalidKernel)
	if err != nil {
		return nil, err
	}
	if len(global) == 0 || len(global) > 3 || (local != nil && len(local) != len(global)) {
		return nil, call(fn, ErrInvalidWorkDimension.Code)
	}
	g := make([]uintptr, len(global))
	for i, v := range global {
		g[i] = uintptr(v)
	}
	var lp unsafe.Pointer
	var l []uintptr
	if local != nil {
		l = make([]uintptr, len(local))
		for i, v := range local {
			l[i] = uintptr(v)
		}
		lp = unsafe.Pointer(&l[0])
	}
	var ev uintptr
	var evp unsafe.Pointer
	if wantEvent {
		evp = unsafe.Pointer(&ev)
	}
	err = call(fn, a.enqueueNDRange(qid, kid, uint32(len(g)), nil, unsafe.Pointer(&g[0]), lp, 0, nil, evp))
	runtime.KeepAlive(g)
	runtime.KeepAlive(l)
	if err != nil || !wantEvent {
		return nil, err
	}
	e := &Event{}
	e.init(kindEvent, ev)
	return e, nil
}
