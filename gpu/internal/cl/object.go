package cl

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// kind enumerates the released-by-us object kinds Live counts.
type kind int

const (
	kindContext kind = iota
	kindQueue
	kindMem
	kindProgram
	kindKernel
	kindEvent
	numKinds
)

var kindNames = [numKinds]string{"context", "command queue", "mem", "program", "kernel", "event"}

var live [numKinds]atomic.Int64

// Live returns how many objects of each kind are created and not yet released,
// listing only the kinds with a nonzero count: an empty map means nothing leaks.
func Live() map[string]int64 {
	m := map[string]int64{}
	for k := range numKinds {
		if n := live[k].Load(); n != 0 {
			m[kindNames[k]] = n
		}
	}
	return m
}

// object is an OpenCL handle that is released once.
type object struct {
	id   atomic.Uintptr
	kind kind
}

// init records a newly created handle of kind k.
func (o *object) init(k kind, id uintptr) {
	live[k].Add(1)
	o.kind = k
	o.id.Store(id)
}

// release calls fn on the handle the first time only.
func (o *object) release(fn func(uintptr) int32, name string) error {
	id := o.id.Swap(0)
	if id == 0 {
		return nil
	}
	live[o.kind].Add(-1)
	return call(name, fn(id))
}

// check returns the handle, or the invalid-object status of fn where the
// object was released (OpenCL itself may crash on a dangling handle).
func (o *object) check(fn string, invalid *Error) (uintptr, error) {
	id := o.id.Load()
	if id == 0 {
		return 0, call(fn, invalid.Code)
	}
	return id, nil
}

// cString returns s as a NUL-terminated byte slice for C.
func cString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// infoFunc is the shape shared by the clGet*Info functions once the object and
// parameter name are bound.
type infoFunc func(size uintptr, value unsafe.Pointer, sizeRet unsafe.Pointer) int32

func infoBytes(fn string, get infoFunc) ([]byte, error) {
	var size uintptr
	if err := call(fn, get(0, nil, unsafe.Pointer(&size))); err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	err := call(fn, get(size, unsafe.Pointer(&buf[0]), nil))
	runtime.KeepAlive(buf)
	return buf, err
}

func infoString(fn string, get infoFunc) (string, error) {
	b, err := infoBytes(fn, get)
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b), err
}

func infoUint32(fn string, get infoFunc) (uint32, error) {
	var v uint32
	err := call(fn, get(unsafe.Sizeof(v), unsafe.Pointer(&v), nil))
	return v, err
}

func infoUint64(fn string, get infoFunc) (uint64, error) {
	var v uint64
	err := call(fn, get(unsafe.Sizeof(v), unsafe.Pointer(&v), nil))
	return v, err
}

func infoSize(fn string, get infoFunc) (uintptr, error) {
	var v uintptr
	err := call(fn, get(unsafe.Sizeof(v), unsafe.Pointer(&v), nil))
	return v, err
}
