package cl

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// Platform is an OpenCL platform (one installed driver).
type Platform struct{ id uintptr }

// GetPlatforms lists the installed platforms; none installed is an empty list.
func GetPlatforms() ([]*Platform, error) {
	a, err := lib()
	if err != nil {
		return nil, err
	}
	var n uint32
	if err := call("clGetPlatformIDs", a.getPlatformIDs(0, nil, unsafe.Pointer(&n))); err != nil {
		if errors.Is(err, ErrPlatformNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	ids := make([]uintptr, n)
	err = call("clGetPlatformIDs", a.getPlatformIDs(n, unsafe.Pointer(&ids[0]), nil))
	runtime.KeepAlive(ids)
	if err != nil {
		return nil, err
	}
	ps := make([]*Platform, n)
	for i, id := range ids {
		ps[i] = &Platform{id: id}
	}
	return ps, nil
}

func (p *Platform) info(name uint32) infoFunc {
	a, _ := lib()
	return func(size uintptr, value, sizeRet unsafe.Pointer) int32 {
		return a.getPlatformInfo(p.id, name, size, value, sizeRet)
	}
}

const (
	platformVersion uint32 = 0x0901
	platformName    uint32 = 0x0902
	platformVendor  uint32 = 0x0903
)

// PlatformProperties describe a platform.
type PlatformProperties struct {
	Name, Vendor, Version string
}

// Properties reads the platform's name, vendor and version.
func (p *Platform) Properties() (PlatformProperties, error) {
	var pp PlatformProperties
	var err error
	for _, f := range []struct {
		name uint32
		dst  *string
	}{{platformName, &pp.Name}, {platformVendor, &pp.Vendor}, {platformVersion, &pp.Version}} {
		if *f.dst, err = infoString("clGetPlatformInfo", p.info(f.name)); err != nil {
			return pp, err
		}
	}
	return pp, nil
}

// DeviceType is a cl_device_type bit set.
type DeviceType uint64

// Device types.
const (
	DeviceTypeDefault     DeviceType = 1 << 0
	DeviceTypeCPU         DeviceType = 1 << 1
	DeviceTypeGPU         DeviceType = 1 << 2
	DeviceTypeAccelerator DeviceType = 1 << 3
	DeviceTypeCustom      DeviceType = 1 << 4
	DeviceTypeAll         DeviceType = 0xFFFFFFFF
)

// String is "gpu", "cpu", "accelerator" or "custom" (joined with "|" for several).
func (t DeviceType) String() string {
	var parts []string
	for _, b := range []struct {
		t    DeviceType
		name string
	}{{DeviceTypeGPU, "gpu"}, {DeviceTypeCPU, "cpu"}, {DeviceTypeAccelerator, "accelerator"}, {DeviceTypeCustom, "custom"}} {
		if t&b.t != 0 {
			parts = append(parts, b.name)
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("DeviceType(%#x)", uint64(t))
	}
	return strings.Join(parts, "|")
}

// Devices lists the platform's devices of type t; none is an empty list.
func (p *Platform) Devices(t DeviceType) ([]*Device, error) {
	a, err := lib()
	if err != nil {
		return nil, err
	}
	var n uint32
	if err := call("clGetDeviceIDs", a.getDeviceIDs(p.id, uint64(t), 0, nil, unsafe.Pointer(&n))); err != nil {
		if errors.Is(err, ErrDeviceNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	ids := make([]uintptr, n)
	err = call("clGetDeviceIDs", a.getDeviceIDs(p.id, uint64(t), n, unsafe.Pointer(&ids[0]), nil))
	runtime.KeepAlive(ids)
	if err != nil {
		return nil, err
	}
	ds := make([]*Device, n)
	for i, id := range ids {
		ds[i] = &Device{id: id, platform: p}
	}
	return ds, nil
}
