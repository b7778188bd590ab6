package gpu

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
	"github.com/clattn/clattn/kernels"
)

// launch describes one kernel launch.
type launch struct {
	op      string   // the backend operation, for errors ("Gemm")
	file    string   // source file in kernels.FS ("gemm.cl")
	kernel  string   // kernel function name in that file
	options []string // extra build options such as "-DTILE_M=64"; part of the program cache key
	global  []int    // global work size, 1-3 dims, a multiple of local
	local   []int    // work-group size; nil lets the driver choose
	// fixedLocal says the kernel needs exactly local (its tiles or __local
	// arrays are sized for it). Otherwise a launch refused with
	// CL_INVALID_WORK_GROUP_SIZE is retried with the local size halved, down
	// to 1, keeping global a multiple of it.
	fixedLocal bool
	// args are backend.Tensor (its buffer; a nil or empty tensor passes a
	// 1-float dummy buffer), int (passed as cl_int; an error if it does not
	// fit), int32, float32, localBytes(n), or a *cl.Mem the device owns.
	args []any
}

// ceilDiv is n/m rounded up (m > 0): the work-groups or tiles that cover n.
func ceilDiv(n, m int) int { return (n + m - 1) / m }

// roundUp is n rounded up to a multiple of m (m > 0): a global size covering n.
func roundUp(n, m int) int { return ceilDiv(n, m) * m }

// cpuVariant is the file and kernel to launch: where cpu is set, the variant
// shaped for CPU devices, which by the convention of package kernels is kernel
// + "_cpu" in file's name + "_cpu.cl".
func cpuVariant(cpu bool, file, kernel string) (string, string) {
	if !cpu {
		return file, kernel
	}
	return strings.TrimSuffix(file, ".cl") + "_cpu.cl", kernel + "_cpu"
}

// localBytes is a __local memory argument of n bytes.
type localBytes int

// programKey identifies a built program: its source file and build options.
type programKey struct{ file, options string }

// program is a cached build and the kernel objects made from it.
type program struct {
	mu      sync.Mutex // guards prog (built once) and kernels
	prog    *cl.Program
	kernels map[string]*kernel
}

// kernel is one kernel object; mu guards setting its arguments and enqueuing
// it, since clSetKernelArg is not thread-safe.
type kernel struct {
	mu sync.Mutex
	k  *cl.Kernel
	// groupSize is the most work-items of any work-group launched so far, 0
	// while every launch left the size to the driver (Programs reports it).
	groupSize int
}

func (p *program) release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, k := range p.kernels {
		errs = append(errs, k.k.Release())
	}
	if p.prog != nil {
		errs = append(errs, p.prog.Release())
	}
	p.kernels, p.prog = nil, nil
	return errors.Join(errs...)
}

// kernelFor returns the kernel object of name in file built with options,
// building the program on first use. A failed build is not cached.
func (d *Device) kernelFor(file, options, name string) (*kernel, error) {
	d.mu.Lock()
	key := programKey{file, options}
	p := d.programs[key]
	if p == nil {
		p = &program{kernels: map[string]*kernel{}}
		d.programs[key] = p
	}
	d.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prog == nil {
		src, err := kernels.Source(file)
		if err != nil {
			return nil, err
		}
		p.prog, err = d.drv.build(d.ctx, d.dev, src, options)
		if err != nil {
			return nil, err
		}
	}
	k := p.kernels[name]
	if k == nil {
		ck, err := d.drv.createKernel(p.prog, name)
		if err != nil {
			return nil, err
		}
		k = &kernel{k: ck}
		p.kernels[name] = k
	}
	return k, nil
}

// launch builds the program once per (file, options) (cached on the device),
// sets the args and enqueues under the kernel's lock, and wraps any failure
// with the device name, op and kernel name. A launch with a zero global size
// does nothing. The caller has entered the device (d.enter).
func (d *Device) launch(l launch) error {
	what := fmt.Sprintf("%s (%s)", l.kernel, l.file)
	fail := func(err error) error { return d.wrap(l.op, fmt.Errorf("kernel %s: %w", what, err)) }
	if len(l.global) == 0 || len(l.global) > 3 || (l.local != nil && len(l.local) != len(l.global)) {
		return fail(fmt.Errorf("%w: global %v, local %v", backend.ErrArgument, l.global, l.local))
	}
	for i, g := range l.global {
		if g < 0 || (l.local != nil && (l.local[i] <= 0 || g%l.local[i] != 0)) {
			return fail(fmt.Errorf("%w: global %v is not a multiple of local %v", backend.ErrArgument, l.global, l.local))
		}
		// Profile.MaxGroupsAboveDim0 (NVIDIA): only batch x heads runs along
		// dimensions 1 and 2. Tests run the NVIDIA paths on PoCL
		// (Device.PretendToBe), where the check applies too.
		if limit := d.profile.MaxGroupsAboveDim0; i > 0 && l.local != nil && limit > 0 && g/l.local[i] > limit {
			return fail(fmt.Errorf("%w: global %v, local %v: %d work-groups along dimension %d, more than the %d that %s devices allow there",
				backend.ErrTooLarge, l.global, l.local, g/l.local[i], i, limit, d.profile.Class))
		}
	}
	for _, g := range l.global {
		if g == 0 {
			return nil
		}
	}
	k, err := d.kernelFor(l.file, strings.Join(l.options, " "), l.kernel)
	if err != nil {
		return fail(err)
	}
	values := make([]any, len(l.args))
	for i, a := range l.args {
		if values[i], err = d.argValue(l.op, i, a); err != nil {
			return fail(err)
		}
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	for i, v := range values {
		if err := d.drv.setArg(k.k, i, v); err != nil {
			return fail(fmt.Errorf("argument %d: %w", i, err))
		}
	}
	d.recMu.Lock()
	record := d.recording != nil
	d.recMu.Unlock()
	local := slices.Clone(l.local)
	for {
		ev, err := d.drv.enqueue(d.queue, k.k, l.global, local, record)
		if errors.Is(err, cl.ErrInvalidWorkGroupSize) && !l.fixedLocal && halve(local, l.global) {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("global %v, local %v: %w", l.global, local, err))
		}
		d.lastKernel.Store(&what)
		if local != nil {
			k.groupSize = max(k.groupSize, backend.Shape(local).Numel())
		}
		if ev != nil {
			d.recMu.Lock()
			if d.recording != nil {
				*d.recording = append(*d.recording, launchEvent{l.op, l.kernel, ev})
				ev = nil
			}
			d.recMu.Unlock()
			if ev != nil {
				_ = ev.Release()
			}
		}
		return nil
	}
}

// halve shrinks the largest dimension of local to the largest divisor of its
// global size that is at most half of it. It reports false when every
// dimension is already 1 (or local is nil, the driver's choice).
func halve(local, global []int) bool {
	best := -1
	for i, l := range local {
		if l > 1 && (best < 0 || l > local[best]) {
			best = i
		}
	}
	if best < 0 {
		return false
	}
	n := local[best] / 2
	for global[best]%n != 0 {
		n--
	}
	local[best] = n
	return true
}

// argValue turns a launch argument into what the driver sets.
func (d *Device) argValue(op string, i int, a any) (any, error) {
	switch v := a.(type) {
	case nil:
		return d.dummyBuffer()
	case backend.Tensor:
		if err := d.checkTensors(op, v); err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		t := asTensor(v)
		if t == nil || t.mem == nil {
			return d.dummyBuffer()
		}
		return t.mem, nil
	case int:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, fmt.Errorf("argument %d: %w: %d does not fit a cl_int", i, backend.ErrArgument, v)
		}
		return int32(v), nil
	case int32, float32, localBytes, *cl.Mem:
		return v, nil
	}
	return nil, fmt.Errorf("argument %d: %w: unsupported type %T", i, backend.ErrArgument, a)
}

// dummyBuffer is a 1-float buffer passed for absent tensors, since a kernel's
// __global pointer argument must be a valid buffer. It holds a zero.
func (d *Device) dummyBuffer() (*cl.Mem, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dummy == nil {
		m, err := d.drv.createBuffer(d.ctx, 4)
		if err != nil {
			return nil, err
		}
		if err := d.drv.zero(d.queue, m); err != nil {
			_ = m.Release()
			return nil, err
		}
		d.dummy = m
	}
	return d.dummy, nil
}

// asTensor returns t as a *Tensor, nil for a nil interface, a nil *Tensor or a
// tensor of another type.
func asTensor(t backend.Tensor) *Tensor {
	g, _ := t.(*Tensor)
	return g
}

// checkTensors verifies that every non-nil tensor was made by d and not
// released (ErrForeignTensor / ErrReleased wrapped with op), and that its
// element count fits a cl_int.
func (d *Device) checkTensors(op string, ts ...backend.Tensor) error {
	for i, t := range ts {
		if t == nil {
			continue
		}
		g, ok := t.(*Tensor)
		if !ok {
			return fmt.Errorf("%s: %w: tensor %d is a %T, not made by %s", op, backend.ErrForeignTensor, i, t, d.name)
		}
		if g == nil {
			continue
		}
		if g.dev != d {
			return fmt.Errorf("%s: %w: tensor %d was made by %s, not %s", op, backend.ErrForeignTensor, i, g.dev.name, d.name)
		}
		d.mu.Lock()
		released := g.released
		d.mu.Unlock()
		if released {
			return fmt.Errorf("%s: %w: tensor %d %v", op, backend.ErrReleased, i, g.shape)
		}
		if n := g.shape.Numel(); n > math.MaxInt32 {
			return backend.ShapeErrorf(op, "tensor %d %v has %d elements, more than a cl_int indexes", i, g.shape, n)
		}
	}
	return nil
}
