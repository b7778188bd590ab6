package cl

import (
	"time"
	"unsafe"
)

// Event is the completion handle of one enqueued command.
type Event struct{ object }

// Release releases the event; it is idempotent.
func (e *Event) Release() error {
	a, err := lib()
	if err != nil {
		return err
	}
	return e.release(a.releaseEvent, "clReleaseEvent")
}

// Wait blocks until the command has completed; a command that failed while
// running reports CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST.
func (e *Event) Wait() error {
	const fn = "clWaitForEvents"
	a, err := lib()
	if err != nil {
		return err
	}
	id, err := e.check(fn, ErrInvalidEvent)
	if err != nil {
		return err
	}
	return call(fn, a.waitForEvents(1, unsafe.Pointer(&id)))
}

const eventCommandExecutionStatus uint32 = 0x11D3

// Status is the command's execution status: 0 (CL_COMPLETE) once done, 1-3 while
// queued, submitted or running, and a negative OpenCL error if it failed.
func (e *Event) Status() (int32, error) {
	const fn = "clGetEventInfo"
	a, err := lib()
	if err != nil {
		return 0, err
	}
	id, err := e.check(fn, ErrInvalidEvent)
	if err != nil {
		return 0, err
	}
	var s int32
	err = call(fn, a.getEventInfo(id, eventCommandExecutionStatus, unsafe.Sizeof(s), unsafe.Pointer(&s), nil))
	return s, err
}

const (
	profilingCommandQueued uint32 = 0x1280
	profilingCommandSubmit uint32 = 0x1281
	profilingCommandStart  uint32 = 0x1282
	profilingCommandEnd    uint32 = 0x1283
)

// Profile holds a command's device timestamps in nanoseconds.
type Profile struct {
	Queued, Submit, Start, End uint64
}

// Duration is the command's run time on the device, End - Start.
func (p Profile) Duration() time.Duration {
	if p.End < p.Start {
		return 0
	}
	return time.Duration(p.End - p.Start)
}

// Profile reads the timestamps of a completed command of a profiling queue.
func (e *Event) Profile() (Profile, error) {
	const fn = "clGetEventProfilingInfo"
	var p Profile
	a, err := lib()
	if err != nil {
		return p, err
	}
	id, err := e.check(fn, ErrInvalidEvent)
	if err != nil {
		return p, err
	}
	for _, f := range []struct {
		name uint32
		dst  *uint64
	}{{profilingCommandQueued, &p.Queued}, {profilingCommandSubmit, &p.Submit}, {profilingCommandStart, &p.Start}, {profilingCommandEnd, &p.End}} {
		if err := call(fn, a.getProfilingInfo(id, f.name, unsafe.Sizeof(*f.dst), unsafe.Pointer(f.dst), nil)); err != nil {
			return p, err
		}
	}
	return p, nil
}
