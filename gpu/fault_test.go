package gpu

import (
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
)

// faultDriver is the real OpenCL binding with failures injected on request.
type faultDriver struct {
	clDriver
	mu           sync.Mutex
	buffers      int    // createBuffer calls
	brokenSource string // replaces every program's source
	failBuild    error
	failAlloc    error
	failRead     error
	failEnqueue  error
	maxLocal     int     // > 0: refuse larger work-groups with CL_INVALID_WORK_GROUP_SIZE
	locals       [][]int // the local sizes of every enqueue
}

func (f *faultDriver) take(err *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *err
}

func (f *faultDriver) build(ctx *cl.Context, dev *cl.Device, source, options string) (*cl.Program, error) {
	if err := f.take(&f.failBuild); err != nil {
		return nil, err
	}
	if f.brokenSource != "" {
		source = f.brokenSource
	}
	return f.clDriver.build(ctx, dev, source, options)
}

func (f *faultDriver) createBuffer(ctx *cl.Context, size int) (*cl.Mem, error) {
	f.mu.Lock()
	f.buffers++
	err := f.failAlloc
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.clDriver.createBuffer(ctx, size)
}

func (f *faultDriver) read(q *cl.CommandQueue, m *cl.Mem, dst []float32) error {
	if err := f.take(&f.failRead); err != nil {
		return err
	}
	return f.clDriver.read(q, m, dst)
}

func (f *faultDriver) read16(q *cl.CommandQueue, m *cl.Mem, dst []uint16) error {
	if err := f.take(&f.failRead); err != nil {
		return err
	}
	return f.clDriver.read16(q, m, dst)
}

func (f *faultDriver) enqueue(q *cl.CommandQueue, k *cl.Kernel, global, local []int, wantEvent bool) (*cl.Event, error) {
	f.mu.Lock()
	f.locals = append(f.locals, slices.Clone(local))
	err, limit := f.failEnqueue, f.maxLocal
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if limit > 0 {
		n := 1
		for _, l := range local {
			n *= l
		}
		if n > limit {
			return nil, cl.ErrInvalidWorkGroupSize
		}
	}
	return f.clDriver.enqueue(q, k, global, local, wantEvent)
}

// openFault opens the first OpenCL device through a faultDriver, skipping (or
// failing with CLATTN_REQUIRE_OPENCL=1) where there is none. Cleanup closes it
// and checks that no OpenCL object leaked.
func openFault(t *testing.T) (*Device, *faultDriver) {
	t.Helper()
	f := &faultDriver{}
	infos, err := listDevices(f)
	if err == nil && len(infos) == 0 {
		err = ErrNoDevice
	}
	if err != nil {
		if os.Getenv("CLATTN_REQUIRE_OPENCL") == "1" {
			t.Fatalf("no OpenCL device: %v", err)
		}
		t.Skipf("no OpenCL device: %v", err)
	}
	d, err := openDevice(f, infos[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		if live := cl.Live(); len(live) != 0 {
			t.Errorf("OpenCL objects leaked: %v", live)
		}
	})
	return d, f
}

// wantFault checks that err wraps target and names the device and words.
func wantFault(t *testing.T, d *Device, err, target error, words ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got %v, want an error wrapping %v", err, target)
	}
	for _, w := range append([]string{d.Name()}, words...) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}

func liveMems() int64 { return cl.Live()["mem"] }

func normInput(t *testing.T, d *Device, rows, cols int) backend.Tensor {
	t.Helper()
	data := make([]float32, rows*cols)
	for i := range data {
		data[i] = float32(i%cols) + float32(i/cols)
	}
	x, err := d.Upload(data, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestFaultAtBuild(t *testing.T) {
	d, f := openFault(t)
	x := normInput(t, d, 2, 8)
	f.failBuild = cl.ErrOutOfResources
	wantFault(t, d, d.LayerNorm(x, x, backend.LayerNormOptions{}), cl.ErrOutOfResources, "LayerNorm", "layer_norm")
	f.failBuild = nil
	if err := d.LayerNorm(x, x, backend.LayerNormOptions{}); err != nil {
		t.Fatalf("a failed build must not be cached: %v", err)
	}
}

func TestBrokenSourceGivesBuildLog(t *testing.T) {
	d, f := openFault(t)
	x := normInput(t, d, 2, 8)
	f.brokenSource = "__kernel void layer_norm(__global float *x) { x[0] = no_such_variable; }"
	err := d.LayerNorm(x, x, backend.LayerNormOptions{})
	var be *cl.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want a *cl.BuildError, got %v", err)
	}
	wantFault(t, d, err, cl.ErrBuildProgramFailure, "layer_norm", "layernorm.cl", "no_such_variable")
}

func TestFaultAtAllocate(t *testing.T) {
	d, f := openFault(t)
	before := liveMems()
	f.failAlloc = cl.ErrMemObjectAllocationFailure
	_, err := d.Upload([]float32{1, 2, 3}, 3)
	wantFault(t, d, err, cl.ErrMemObjectAllocationFailure, "Upload")
	_, err = d.Alloc(5)
	wantFault(t, d, err, cl.ErrMemObjectAllocationFailure, "Alloc")
	f.failAlloc = nil
	x := normInput(t, d, 3, 4)
	f.failAlloc = cl.ErrMemObjectAllocationFailure
	// The dummy buffer for the absent gamma cannot be made.
	wantFault(t, d, d.LayerNorm(x, x, backend.LayerNormOptions{}), cl.ErrMemObjectAllocationFailure, "LayerNorm", "layer_norm")
	wantFault(t, d, d.PositionalEncoding(x, nil, backend.PositionalOptions{}), cl.ErrMemObjectAllocationFailure,
		"PositionalEncoding", "positional_encoding")
	f.failAlloc = nil
	if err := x.Release(); err != nil {
		t.Fatal(err)
	}
	if got := liveMems(); got != before {
		t.Errorf("%d buffers alive after failed allocations, want %d", got, before)
	}
}

func TestFaultAtEnqueue(t *testing.T) {
	d, f := openFault(t)
	x := normInput(t, d, 2, 8)
	f.failEnqueue = cl.ErrOutOfResources
	wantFault(t, d, d.LayerNorm(x, x, backend.LayerNormOptions{}), cl.ErrOutOfResources, "LayerNorm", "layer_norm")
	wantFault(t, d, d.Smoke(100), cl.ErrOutOfResources, "Smoke", "vec_add")
}

func TestLateFaultAtRead(t *testing.T) {
	d, f := openFault(t)
	x := normInput(t, d, 2, 8)
	if err := d.LayerNorm(x, x, backend.LayerNormOptions{}); err != nil {
		t.Fatal(err)
	}
	f.failRead = cl.ErrOutOfResources
	wantFault(t, d, d.Download(make([]float32, 16), x), cl.ErrOutOfResources, "Download", "layer_norm")
}

func TestWorkGroupSizeRetry(t *testing.T) {
	d, f := openFault(t)
	const rows, cols = 3, 1000
	x := normInput(t, d, rows, cols)
	y, err := d.Alloc(rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	f.maxLocal = 16
	if err := d.LayerNorm(y, x, backend.LayerNormOptions{}); err != nil {
		t.Fatalf("LayerNorm with work-groups of at most 16: %v", err)
	}
	if got, want := f.locals, [][]int{{1, 256}, {1, 128}, {1, 64}, {1, 32}, {1, 16}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("local sizes tried %v, want %v", got, want)
	}
	got := make([]float32, rows*cols)
	if err := d.Download(got, y); err != nil {
		t.Fatal(err)
	}
	for r := range rows {
		var sum, sq float64
		for _, v := range got[r*cols : (r+1)*cols] {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		if mean, variance := sum/cols, sq/cols; mean > 1e-4 || mean < -1e-4 || variance < 0.999 || variance > 1.001 {
			t.Errorf("row %d: mean %g, variance %g after the retried launch", r, mean, variance)
		}
	}

	// A fixed local size is not retried; nothing at all runs at local size 1.
	f.locals = nil
	err = d.launch(launch{op: "Test", file: "smoke.cl", kernel: "vec_add", global: []int{64}, local: []int{64},
		fixedLocal: true, args: []any{x, x, y, 0}})
	wantFault(t, d, err, cl.ErrInvalidWorkGroupSize, "Test", "vec_add")
	if len(f.locals) != 1 {
		t.Errorf("fixed local size tried %v", f.locals)
	}
	f.failEnqueue = cl.ErrInvalidWorkGroupSize
	f.locals = nil
	wantFault(t, d, d.Smoke(100), cl.ErrInvalidWorkGroupSize, "vec_add")
	if last := f.locals[len(f.locals)-1]; !slices.Equal(last, []int{1}) {
		t.Errorf("halving stopped at %v, want [1]", f.locals)
	}
}

func TestHalve(t *testing.T) {
	for _, c := range []struct{ local, global, want []int }{
		{[]int{64}, []int{128}, []int{32}},
		{[]int{6}, []int{12}, []int{3}},
		{[]int{3}, []int{9}, []int{1}},
		{[]int{10}, []int{30}, []int{5}},
		{[]int{16, 4}, []int{32, 8}, []int{8, 4}},
	} {
		l := slices.Clone(c.local)
		if !halve(l, c.global) || !slices.Equal(l, c.want) {
			t.Errorf("halve(%v, %v) = %v, want %v", c.local, c.global, l, c.want)
		}
	}
	if halve([]int{1, 1}, []int{4, 4}) || halve(nil, []int{4}) {
		t.Error("halve shrank a local size of ones or nil")
	}
}

// TestOversizedAllocationRefusedEarly needs no OpenCL: the size check comes
// before the driver is called.
func TestOversizedAllocationRefusedEarly(t *testing.T) {
	f := &faultDriver{}
	d := &Device{name: "opencl:9 fake", drv: f, info: DeviceInfo{MaxAlloc: 1024, GlobalMem: 4096},
		tensors: map[*Tensor]struct{}{}}
	for _, shape := range [][]int{{257}, {2, 200}, {1 << 20, 1 << 20}} {
		if _, err := d.Alloc(shape...); !errors.Is(err, ErrTooLarge) && !errors.Is(err, backend.ErrShape) {
			t.Errorf("Alloc%v: %v, want ErrTooLarge", shape, err)
		}
	}
	d.info.MaxAlloc = 1 << 20
	if _, err := d.Upload(make([]float32, 1025), 1025); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "opencl:9 fake") {
		t.Errorf("Upload over GlobalMem: %v", err)
	}
	if _, err := d.Alloc(1<<16, 1<<16); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "[65536 65536]") {
		t.Errorf("Alloc of 2^32 elements: %v", err)
	}
	zero, err := d.Alloc(0, 5)
	if err != nil {
		t.Fatalf("zero-size Alloc: %v", err)
	}
	if err := zero.Release(); err != nil {
		t.Fatal(err)
	}
	if f.buffers != 0 {
		t.Errorf("the driver was asked for %d buffers", f.buffers)
	}
}
