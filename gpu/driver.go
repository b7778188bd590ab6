package gpu

import (
	"fmt"

	"github.com/clattn/clattn/gpu/internal/cl"
)

// driver is every OpenCL call package gpu makes that can fail at run time:
// discovery, creation, transfers, builds, argument setting and launches.
// clDriver is the real binding; tests substitute a driver that injects
// failures (out of resources, allocation failures, refused work-group sizes,
// errors surfacing late at a read). Objects are released through their own
// Release methods.
type driver interface {
	platforms() ([]*cl.Platform, error)
	platformProperties(p *cl.Platform) (cl.PlatformProperties, error)
	devices(p *cl.Platform) ([]*cl.Device, error)
	deviceProperties(dev *cl.Device) (cl.DeviceProperties, error)
	createContext(dev *cl.Device) (*cl.Context, error)
	createQueue(ctx *cl.Context, dev *cl.Device) (*cl.CommandQueue, error)
	createBuffer(ctx *cl.Context, size int) (*cl.Mem, error)
	write(q *cl.CommandQueue, m *cl.Mem, data []float32) error
	read(q *cl.CommandQueue, m *cl.Mem, dst []float32) error
	// write16 and read16 move 16-bit values (half and bfloat16 tensors).
	write16(q *cl.CommandQueue, m *cl.Mem, data []uint16) error
	read16(q *cl.CommandQueue, m *cl.Mem, dst []uint16) error
	zero(q *cl.CommandQueue, m *cl.Mem) error
	finish(q *cl.CommandQueue) error
	// build creates and builds a program, releasing it if the build fails.
	build(ctx *cl.Context, dev *cl.Device, source, options string) (*cl.Program, error)
	createKernel(p *cl.Program, name string) (*cl.Kernel, error)
	// setArg sets one argument: a *cl.Mem, int32, float32 or localBytes.
	setArg(k *cl.Kernel, index int, value any) error
	enqueue(q *cl.CommandQueue, k *cl.Kernel, global, local []int, wantEvent bool) (*cl.Event, error)
}

// clDriver calls the OpenCL library.
type clDriver struct{}

func (clDriver) platforms() ([]*cl.Platform, error) { return cl.GetPlatforms() }

func (clDriver) platformProperties(p *cl.Platform) (cl.PlatformProperties, error) {
	return p.Properties()
}

func (clDriver) devices(p *cl.Platform) ([]*cl.Device, error) { return p.Devices(cl.DeviceTypeAll) }

func (clDriver) deviceProperties(dev *cl.Device) (cl.DeviceProperties, error) {
	return dev.Properties()
}

func (clDriver) createContext(dev *cl.Device) (*cl.Context, error) {
	return cl.CreateContext([]*cl.Device{dev})
}

func (clDriver) createQueue(ctx *cl.Context, dev *cl.Device) (*cl.CommandQueue, error) {
	return ctx.CreateCommandQueue(dev, true)
}

func (clDriver) createBuffer(ctx *cl.Context, size int) (*cl.Mem, error) {
	return ctx.CreateBuffer(cl.MemReadWrite, size)
}

func (clDriver) write(q *cl.CommandQueue, m *cl.Mem, data []float32) error {
	return q.WriteFloat32(m, 0, data)
}

func (clDriver) read(q *cl.CommandQueue, m *cl.Mem, dst []float32) error {
	return q.ReadFloat32(m, 0, dst)
}

func (clDriver) write16(q *cl.CommandQueue, m *cl.Mem, data []uint16) error {
	return q.WriteUint16(m, 0, data)
}

func (clDriver) read16(q *cl.CommandQueue, m *cl.Mem, dst []uint16) error {
	return q.ReadUint16(m, 0, dst)
}

func (clDriver) zero(q *cl.CommandQueue, m *cl.Mem) error { return q.FillFloat32(m, 0, 0, m.Size()) }

func (clDriver) finish(q *cl.CommandQueue) error { return q.Finish() }

func (clDriver) build(ctx *cl.Context, dev *cl.Device, source, options string) (*cl.Program, error) {
	p, err := ctx.CreateProgramWithSource(source)
	if err != nil {
		return nil, err
	}
	if err := p.Build([]*cl.Device{dev}, options); err != nil {
		_ = p.Release()
		return nil, err
	}
	return p, nil
}

func (clDriver) createKernel(p *cl.Program, name string) (*cl.Kernel, error) {
	return p.CreateKernel(name)
}

func (clDriver) setArg(k *cl.Kernel, index int, value any) error {
	switch v := value.(type) {
	case *cl.Mem:
		return k.SetArgBuffer(index, v)
	case int32:
		return k.SetArgInt32(index, v)
	case float32:
		return k.SetArgFloat32(index, v)
	case localBytes:
		return k.SetArgLocal(index, int(v))
	}
	return fmt.Errorf("kernel argument %d has unsupported type %T", index, value)
}

func (clDriver) enqueue(q *cl.CommandQueue, k *cl.Kernel, global, local []int, wantEvent bool) (*cl.Event, error) {
	return q.EnqueueKernel(k, global, local, wantEvent)
}
