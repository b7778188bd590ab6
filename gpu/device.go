package gpu

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
)

// DeviceInfo describes one OpenCL device as Devices lists it.
type DeviceInfo struct {
	Index             int    // position in the Devices list, the N of "opencl:N"
	Platform          string // the platform (driver) name
	Name, Vendor      string
	Type              string // "gpu", "cpu", "accelerator" or "custom"
	ComputeUnits      int
	ClockMHz          int
	GlobalMem         int64 // bytes
	LocalMem          int64 // bytes of __local memory per work-group
	MaxAlloc          int64 // bytes of the largest single buffer
	MaxWorkGroupSize  int
	MaxWorkItemSizes  []int
	OpenCLC           string // the OpenCL C version the compiler accepts
	DriverVersion     string
	Extensions        []string
	FP16, FP64        bool
	TimerResolutionNs int // resolution of the profiling timer

	dev *cl.Device
}

// typeName is the DeviceInfo.Type of an OpenCL device type, GPU first where a
// device reports several bits.
func typeName(t cl.DeviceType) string {
	switch {
	case t&cl.DeviceTypeGPU != 0:
		return "gpu"
	case t&cl.DeviceTypeAccelerator != 0:
		return "accelerator"
	case t&cl.DeviceTypeCPU != 0:
		return "cpu"
	}
	return "custom"
}

// LibraryEnv names the environment variable that, where set, is the one OpenCL
// library loaded (see the package documentation).
const LibraryEnv = cl.LibraryEnv

// Devices lists the available OpenCL devices of every platform, in platform
// order; their Index is their position in this list. A system with the OpenCL
// loader but no platform gives an empty list; one without the loader an error.
func Devices() ([]DeviceInfo, error) { return listDevices(clDriver{}) }

func listDevices(drv driver) ([]DeviceInfo, error) {
	ps, err := drv.platforms()
	if err != nil {
		return nil, fmt.Errorf("gpu: listing OpenCL platforms: %w", err)
	}
	var infos []DeviceInfo
	var errs []error
	for _, p := range ps {
		pp, err := drv.platformProperties(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ds, err := drv.devices(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("platform %s: %w", pp.Name, err))
			continue
		}
		for _, dev := range ds {
			props, err := drv.deviceProperties(dev)
			if err != nil {
				errs = append(errs, fmt.Errorf("platform %s: %w", pp.Name, err))
				continue
			}
			if !props.Available {
				continue
			}
			infos = append(infos, DeviceInfo{
				Index: len(infos), Platform: pp.Name, Name: props.Name, Vendor: props.Vendor,
				Type: typeName(props.Type), ComputeUnits: props.ComputeUnits, ClockMHz: props.ClockMHz,
				GlobalMem: props.GlobalMem, LocalMem: props.LocalMem, MaxAlloc: props.MaxAlloc,
				MaxWorkGroupSize: props.MaxWorkGroupSize, MaxWorkItemSizes: props.MaxWorkItemSizes,
				OpenCLC: props.OpenCLCVersion, DriverVersion: props.DriverVersion, Extensions: props.Extensions,
				FP16: props.FP16, FP64: props.FP64, TimerResolutionNs: props.TimerResolutionNs, dev: dev,
			})
		}
	}
	if len(infos) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("gpu: listing OpenCL devices: %w", errors.Join(errs...))
	}
	return infos, nil
}

var _ backend.Backend = (*Device)(nil)

// Device is one OpenCL device opened as a backend.Backend: a context, one
// in-order profiling command queue, the tensors made on it and the programs
// built for it. It is safe for concurrent use; Close waits for calls in flight.
type Device struct {
	info    DeviceInfo
	profile Profile // computed once from info
	name    string
	drv     driver
	dev     *cl.Device
	ctx     *cl.Context
	queue   *cl.CommandQueue

	// life is held shared by every public call and exclusively by Close.
	life sync.RWMutex
	// mu guards the fields below it.
	mu       sync.Mutex
	closed   bool
	tensors  map[*Tensor]struct{}
	programs map[programKey]*program
	dummy    *cl.Mem
	freqs    map[string]*cl.Mem // frequency tables of posenc and rotary, by their float64 bits
	scratch  *cl.Mem            // the decode kernels' partials (decodeScratch)

	decodeMu sync.Mutex // held while a decode call enqueues its two kernels

	timing    sync.Mutex // serialises KernelTime
	recMu     sync.Mutex
	recording *[]launchEvent // launches while KernelTimes runs

	lastKernel atomic.Pointer[string] // "kernel (file) of Op", for late errors

	tuning atomic.Pointer[Tuning] // SetTuning's override; nil = shipped defaults
	// tuningCacheErr is why Open did not apply the tuning cache; set before
	// the device is returned, read-only after.
	tuningCacheErr error
}

// OpenDevice opens the device info describes (an entry of Devices).
func OpenDevice(info DeviceInfo) (*Device, error) { return openDevice(clDriver{}, info) }

func openDevice(drv driver, info DeviceInfo) (*Device, error) {
	name := fmt.Sprintf("opencl:%d %s", info.Index, info.Name)
	if info.dev == nil {
		infos, err := listDevices(drv)
		if err != nil {
			return nil, err
		}
		if info.Index < 0 || info.Index >= len(infos) || infos[info.Index].Name != info.Name {
			return nil, fmt.Errorf("gpu: %s: %w", name, ErrNoDevice)
		}
		info = infos[info.Index]
	}
	ctx, err := drv.createContext(info.dev)
	if err != nil {
		return nil, fmt.Errorf("gpu: %s: %w", name, err)
	}
	q, err := drv.createQueue(ctx, info.dev)
	if err != nil {
		_ = ctx.Release()
		return nil, fmt.Errorf("gpu: %s: %w", name, err)
	}
	return &Device{
		info: info, profile: ProfileOf(info), name: name, drv: drv, dev: info.dev, ctx: ctx, queue: q,
		tensors: map[*Tensor]struct{}{}, programs: map[programKey]*program{}, freqs: map[string]*cl.Mem{},
	}, nil
}

// Name is "opencl:N <device name>".
func (d *Device) Name() string { return d.name }

// Info describes the device.
func (d *Device) Info() DeviceInfo { return d.info }

// enter starts a public call: it fails with ErrReleased after Close, and
// otherwise holds Close off until the matching d.life.RUnlock.
func (d *Device) enter(op string) error {
	d.life.RLock()
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		d.life.RUnlock()
		return fmt.Errorf("%s: %w: %s is closed", op, backend.ErrReleased, d.name)
	}
	return nil
}

// Close waits for the queued work, then releases every tensor, program and
// kernel made on the device, its queue and its context. It is idempotent.
func (d *Device) Close() error {
	d.life.Lock()
	defer d.life.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	errs := []error{d.drv.finish(d.queue)}
	for t := range d.tensors {
		errs = append(errs, t.releaseLocked())
	}
	for _, p := range d.programs {
		errs = append(errs, p.release())
	}
	for _, m := range d.freqs {
		errs = append(errs, m.Release())
	}
	if d.dummy != nil {
		errs = append(errs, d.dummy.Release())
	}
	if d.scratch != nil {
		errs = append(errs, d.scratch.Release())
	}
	errs = append(errs, d.queue.Release(), d.ctx.Release())
	d.tensors, d.programs, d.freqs, d.dummy, d.scratch = nil, nil, nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gpu: %s: Close: %w", d.name, err)
	}
	return nil
}

// wrap prefixes err with the device name and op.
func (d *Device) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("gpu: %s: %s: %w", d.name, op, err)
}

// wrapLate is wrap for errors of a transfer or Finish, which may report a
// failure of a kernel queued before it.
func (d *Device) wrapLate(op string, err error) error {
	if err == nil {
		return nil
	}
	if k := d.lastKernel.Load(); k != nil {
		return fmt.Errorf("gpu: %s: %s (after kernel %s): %w", d.name, op, *k, err)
	}
	return d.wrap(op, err)
}
