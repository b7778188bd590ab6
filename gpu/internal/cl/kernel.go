package cl

import (
	"unsafe"
)

// Kernel is one __kernel function of a built program with its arguments.
// Setting arguments is not thread-safe (see the package doc).
type Kernel struct {
	object
	name string
}

// Name is the kernel function's name.
func (k *Kernel) Name() string { return k.name }

// Release releases the kernel; it is idempotent.
func (k *Kernel) Release() error {
	a, err := lib()
	if err != nil {
		return err
	}
	return k.release(a.releaseKernel, "clReleaseKernel")
}

func (k *Kernel) setArg(index int, size uintptr, value unsafe.Pointer) error {
	const fn = "clSetKernelArg"
	a, err := lib()
	if err != nil {
		return err
	}
	id, err := k.check(fn, ErrInvalidKernel)
	if err != nil {
		return err
	}
	return call(fn, a.setKernelArg(id, uint32(index), size, value))
}

// SetArgBuffer sets argument index to the buffer m (a __global pointer).
func (k *Kernel) SetArgBuffer(index int, m *Mem) error {
	id, err := m.check("clSetKernelArg", ErrInvalidMemObject)
	if err != nil {
		return err
	}
	return k.setArg(index, unsafe.Sizeof(id), unsafe.Pointer(&id))
}

// SetArgInt32 sets argument index to an int.
func (k *Kernel) SetArgInt32(index int, v int32) error {
	return k.setArg(index, unsafe.Sizeof(v), unsafe.Pointer(&v))
}

// SetArgFloat32 sets argument index to a float.
func (k *Kernel) SetArgFloat32(index int, v float32) error {
	return k.setArg(index, unsafe.Sizeof(v), unsafe.Pointer(&v))
}

// SetArgLocal sets argument index to a __local buffer of size bytes.
func (k *Kernel) SetArgLocal(index int, size int) error {
	return k.setArg(index, uintptr(size), nil)
}

const (
	kernelWorkGroupSize                  uint32 = 0x11B0
	kernelLocalMemSize                   uint32 = 0x11B2
	kernelPreferredWorkGroupSizeMultiple uint32 = 0x11B3
	kernelPrivateMemSize                 uint32 = 0x11B4
)

// WorkGroupInfo is what a device says about a kernel's work-groups.
type WorkGroupInfo struct {
	WorkGroupSize     int   // largest work-group the kernel can run with on the device
	PreferredMultiple int   // work-group sizes should be a multiple of this (the warp/wavefront)
	LocalMem          int64 // bytes of __local memory the kernel uses, statically and by args
	PrivateMem        int64 // bytes of private memory per work-item
}

// WorkGroupInfo queries the kernel's work-group limits on device.
func (k *Kernel) WorkGroupInfo(device *Device) (WorkGroupInfo, error) {
	const fn = "clGetKernelWorkGroupInfo"
	var w WorkGroupInfo
	a, err := lib()
	if err != nil {
		return w, err
	}
	id, err := k.check(fn, ErrInvalidKernel)
	if err != nil {
		return w, err
	}
	get := func(name uint32) infoFunc {
		return func(size uintptr, value, sizeRet unsafe.Pointer) int32 {
			return a.getWorkGroupInfo(id, device.id, name, size, value, sizeRet)
		}
	}
	wg, err := infoSize(fn, get(kernelWorkGroupSize))
	if err != nil {
		return w, err
	}
	mult, err := infoSize(fn, get(kernelPreferredWorkGroupSizeMultiple))
	if err != nil {
		return w, err
	}
	lm, err := infoUint64(fn, get(kernelLocalMemSize))
	if err != nil {
		return w, err
	}
	pm, err := infoUint64(fn, get(kernelPrivateMemSize))
	if err != nil {
		return w, err
	}
	return WorkGroupInfo{WorkGroupSize: int(wg), PreferredMultiple: int(mult), LocalMem: int64(lm), PrivateMem: int64(pm)}, nil
}
