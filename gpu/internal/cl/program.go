package cl

import (
	"runtime"
	"strings"
	"unsafe"
)

// Program is an OpenCL program built from source.
type Program struct{ object }

// CreateProgramWithSource creates a program from OpenCL C source.
func (c *Context) CreateProgramWithSource(source string) (*Program, error) {
	const fn = "clCreateProgramWithSource"
	a, err := lib()
	if err != nil {
		return nil, err
	}
	ctx, err := c.check(fn, ErrInvalidContext)
	if err != nil {
		return nil, err
	}
	src := cString(source)
	ptr := unsafe.Pointer(&src[0])
	length := uintptr(len(source))
	var status int32
	id := a.createProgram(ctx, 1, unsafe.Pointer(&ptr), unsafe.Pointer(&length), unsafe.Pointer(&status))
	runtime.KeepAlive(src)
	if err := call(fn, status); err != nil {
		return nil, err
	}
	p := &Program{}
	p.init(kindProgram, id)
	return p, nil
}

// Release releases the program; it is idempotent.
func (p *Program) Release() error {
	a, err := lib()
	if err != nil {
		return err
	}
	return p.release(a.releaseProgram, "clReleaseProgram")
}

const programBuildLog uint32 = 0x1183

// Build compiles the program for devices with the given options. A compiler
// failure returns a *BuildError holding the build log of every device.
func (p *Program) Build(devices []*Device, options string) error {
	const fn = "clBuildProgram"
	a, err := lib()
	if err != nil {
		return err
	}
	id, err := p.check(fn, ErrInvalidProgram)
	if err != nil {
		return err
	}
	ids := make([]uintptr, len(devices))
	for i, d := range devices {
		ids[i] = d.id
	}
	var idp unsafe.Pointer
	if len(ids) > 0 {
		idp = unsafe.Pointer(&ids[0])
	}
	opts := cString(options)
	status := a.buildProgram(id, uint32(len(ids)), idp, unsafe.Pointer(&opts[0]), 0, 0)
	runtime.KeepAlive(ids)
	runtime.KeepAlive(opts)
	if status == 0 {
		return nil
	}
	var logs []string
	for _, d := range devices {
		log, err := infoString("clGetProgramBuildInfo", func(size uintptr, value, sizeRet unsafe.Pointer) int32 {
			return a.getBuildInfo(id, d.id, programBuildLog, size, value, sizeRet)
		})
		if err == nil && strings.TrimSpace(log) != "" {
			logs = append(logs, log)
		}
	}
	return &BuildError{Status: StatusError(status), Options: options, Log: strings.Join(logs, "\n")}
}

// CreateKernel creates a kernel object for the named __kernel function.
func (p *Program) CreateKernel(name string) (*Kernel, error) {
	const fn = "clCreateKernel"
	a, err := lib()
	if err != nil {
		return nil, err
	}
	id, err := p.check(fn, ErrInvalidProgram)
	if err != nil {
		return nil, err
	}
	cname := cString(name)
	var status int32
	kid := a.createKernel(id, unsafe.Pointer(&cname[0]), unsafe.Pointer(&status))
	runtime.KeepAlive(cname)
	if err := call(fn, status); err != nil {
		return nil, err
	}
	k := &Kernel{name: name}
	k.init(kindKernel, kid)
	return k, nil
}
