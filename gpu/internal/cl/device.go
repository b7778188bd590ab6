package cl

import (
	"strings"
	"unsafe"
)

// Device is an OpenCL device of a platform.
type Device struct {
	id       uintptr
	platform *Platform
}

// Platform is the platform the device belongs to.
func (d *Device) Platform() *Platform { return d.platform }

const (
	deviceType                     uint32 = 0x1000
	deviceMaxComputeUnits          uint32 = 0x1002
	deviceMaxWorkItemDimensions    uint32 = 0x1003
	deviceMaxWorkGroupSize         uint32 = 0x1004
	deviceMaxWorkItemSizes         uint32 = 0x1005
	deviceMaxClockFrequency        uint32 = 0x100C
	deviceMaxMemAllocSize          uint32 = 0x1010
	deviceGlobalMemSize            uint32 = 0x101F
	deviceLocalMemSize             uint32 = 0x1023
	deviceProfilingTimerResolution uint32 = 0x1025
	deviceAvailable                uint32 = 0x1027
	deviceName                     uint32 = 0x102B
	deviceVendor                   uint32 = 0x102C
	deviceDriverVersion            uint32 = 0x102D
	deviceVersion                  uint32 = 0x102F
	deviceExtensions               uint32 = 0x1030
	deviceOpenCLCVersion           uint32 = 0x103D
)

// DeviceProperties are the facts about a device that clattn uses to choose a
// device, size allocations and pick work-group sizes.
type DeviceProperties struct {
	Name, Vendor      string
	Type              DeviceType
	ComputeUnits      int
	ClockMHz          int
	GlobalMem         int64 // bytes
	LocalMem          int64 // bytes of __local memory per work-group
	MaxAlloc          int64 // largest single buffer, bytes
	MaxWorkGroupSize  int
	MaxWorkItemSizes  []int
	Version           string // "OpenCL 3.0 ..."
	OpenCLCVersion    string // "OpenCL C 1.2 ..."
	DriverVersion     string
	Extensions        []string
	FP16, FP64        bool
	TimerResolutionNs int
	Available         bool
}

func (d *Device) info(name uint32) infoFunc {
	a, _ := lib()
	return func(size uintptr, value, sizeRet unsafe.Pointer) int32 {
		return a.getDeviceInfo(d.id, name, size, value, sizeRet)
	}
}

// Properties reads the device's properties; the first failed query is the error.
func (d *Device) Properties() (DeviceProperties, error) {
	const fn = "clGetDeviceInfo"
	var p DeviceProperties
	if _, err := lib(); err != nil {
		return p, err
	}
	for _, s := range []struct {
		name uint32
		dst  *string
	}{
		{deviceName, &p.Name}, {deviceVendor, &p.Vendor}, {deviceVersion, &p.Version},
		{deviceOpenCLCVersion, &p.OpenCLCVersion}, {deviceDriverVersion, &p.DriverVersion},
	} {
		v, err := infoString(fn, d.info(s.name))
		if err != nil {
			return p, err
		}
		*s.dst = strings.TrimSpace(v)
	}
	ext, err := infoString(fn, d.info(deviceExtensions))
	if err != nil {
		return p, err
	}
	p.Extensions = strings.Fields(ext)
	for _, e := range p.Extensions {
		switch e {
		case "cl_khr_fp16":
			p.FP16 = true
		case "cl_khr_fp64":
			p.FP64 = true
		}
	}
	t, err := infoUint64(fn, d.info(deviceType))
	if err != nil {
		return p, err
	}
	p.Type = DeviceType(t)
	for _, u := range []struct {
		name uint32
		dst  *int
	}{{deviceMaxComputeUnits, &p.ComputeUnits}, {deviceMaxClockFrequency, &p.ClockMHz}} {
		v, err := infoUint32(fn, d.info(u.name))
		if err != nil {
			return p, err
		}
		*u.dst = int(v)
	}
	avail, err := infoUint32(fn, d.info(deviceAvailable))
	if err != nil {
		return p, err
	}
	p.Available = avail != 0
	for _, u := range []struct {
		name uint32
		dst  *int64
	}{{deviceGlobalMemSize, &p.GlobalMem}, {deviceLocalMemSize, &p.LocalMem}, {deviceMaxMemAllocSize, &p.MaxAlloc}} {
		v, err := infoUint64(fn, d.info(u.name))
		if err != nil {
			return p, err
		}
		*u.dst = int64(min(v, 1<<62))
	}
	for _, u := range []struct {
		name uint32
		dst  *int
	}{{deviceMaxWorkGroupSize, &p.MaxWorkGroupSize}, {deviceProfilingTimerResolution, &p.TimerResolutionNs}} {
		v, err := infoSize(fn, d.info(u.name))
		if err != nil {
			return p, err
		}
		*u.dst = int(v)
	}
	dims, err := infoUint32(fn, d.info(deviceMaxWorkItemDimensions))
	if err != nil {
		return p, err
	}
	raw, err := infoBytes(fn, d.info(deviceMaxWorkItemSizes))
	if err != nil {
		return p, err
	}
	const word = int(unsafe.Sizeof(uintptr(0)))
	for i := 0; i < int(dims) && (i+1)*word <= len(raw); i++ {
		p.MaxWorkItemSizes = append(p.MaxWorkItemSizes, int(*(*uintptr)(unsafe.Pointer(&raw[i*word]))))
	}
	return p, nil
}
