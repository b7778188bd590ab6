package cl

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// firstDevice returns the first OpenCL device, skipping the test where there is
// none (failing it with CLATTN_REQUIRE_OPENCL=1).
func firstDevice(t *testing.T) *Device {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CLATTN_REQUIRE_OPENCL") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	ps, err := GetPlatforms()
	if err != nil {
		skip("no OpenCL: %v", err)
	}
	for _, p := range ps {
		ds, err := p.Devices(DeviceTypeAll)
		must(t, err)
		if len(ds) > 0 {
			return ds[0]
		}
	}
	skip("no OpenCL device on %d platform(s)", len(ps))
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func requireNoLeaks(t *testing.T) {
	t.Helper()
	if live := Live(); len(live) != 0 {
		t.Errorf("OpenCL objects not released: %v", live)
	}
}

func TestLoadReportsEveryPath(t *testing.T) {
	_, err := loadFrom([]string{"/nonexistent/libOpenCL.so", "/also/missing.so"})
	wantIs(t, err, ErrNoLibrary)
	for _, p := range []string{"/nonexistent/libOpenCL.so", "/also/missing.so"} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %s", err, p)
		}
	}
}

func TestStatusErrors(t *testing.T) {
	err := call("clEnqueueNDRangeKernel", -5)
	wantIs(t, err, ErrOutOfResources)
	if got, want := err.Error(), "clEnqueueNDRangeKernel: CL_OUT_OF_RESOURCES"; got != want {
		t.Errorf("error text %q, want %q", got, want)
	}
	if StatusError(0) != nil {
		t.Error("CL_SUCCESS is an error")
	}
	if got := StatusError(-9999).Error(); got != "CL_ERROR(-9999)" {
		t.Errorf("unknown status reads %q", got)
	}
	wantIs(t, &BuildError{Status: ErrBuildProgramFailure, Log: "error: x"}, ErrBuildProgramFailure)
}

const vecAdd = `
__kernel void add(__global const float *a, __global const float *b, __global float *c, int n, float s) {
	int i = get_global_id(0);
	if (i < n) c[i] = a[i] + s * b[i];
}
`

func TestVectorAddWithProfiling(t *testing.T) {
	dev := firstDevice(t)
	props, err := dev.Properties()
	must(t, err)
	if props.Name == "" || props.ComputeUnits <= 0 || props.MaxAlloc <= 0 || len(props.MaxWorkItemSizes) == 0 || props.MaxWorkGroupSize <= 0 {
		t.Errorf("implausible properties %+v", props)
	}
	pp, err := dev.Platform().Properties()
	must(t, err)
	if pp.Name == "" {
		t.Error("platform has no name")
	}

	ctx, err := CreateContext([]*Device{dev})
	must(t, err)
	defer func() { must(t, ctx.Release()); requireNoLeaks(t) }()
	q, err := ctx.CreateCommandQueue(dev, true)
	must(t, err)
	defer q.Release()

	const n = 1000
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = float32(i), float32(2*i)
	}
	bufs := make([]*Mem, 3)
	for i := range bufs {
		bufs[i], err = ctx.CreateBuffer(MemReadWrite, 4*n)
		must(t, err)
		defer bufs[i].Release()
	}
	must(t, q.WriteFloat32(bufs[0], 0, a))
	must(t, q.WriteFloat32(bufs[1], 0, b))
	must(t, q.FillFloat32(bufs[2], 7, 0, 4*n))

	prog, err := ctx.CreateProgramWithSource(vecAdd)
	must(t, err)
	defer prog.Release()
	must(t, prog.Build([]*Device{dev}, "-cl-std=CL1.2"))
	k, err := prog.CreateKernel("add")
	must(t, err)
	defer k.Release()
	wg, err := k.WorkGroupInfo(dev)
	must(t, err)
	if wg.WorkGroupSize <= 0 {
		t.Errorf("work-group info %+v", wg)
	}
	for i, m := range bufs {
		must(t, k.SetArgBuffer(i, m))
	}
	must(t, k.SetArgInt32(3, n))
	must(t, k.SetArgFloat32(4, 0.5))
	ev, err := q.EnqueueKernel(k, []int{1024}, []int{64}, true)
	must(t, err)
	defer ev.Release()
	must(t, q.Finish())
	must(t, ev.Wait())
	if st, err := ev.Status(); err != nil || st != 0 {
		t.Errorf("event status %d, %v", st, err)
	}
	p, err := ev.Profile()
	must(t, err)
	if p.Queued > p.Submit || p.Start > p.End || p.End == 0 {
		t.Errorf("implausible profile %+v", p)
	}

	got := make([]float32, n)
	must(t, q.ReadFloat32(bufs[2], 0, got))
	for i := range got {
		if want := a[i] + 0.5*b[i]; got[i] != want {
			t.Fatalf("element %d = %g, want %g", i, got[i], want)
		}
	}
}

func TestBuildErrorCarriesLog(t *testing.T) {
	dev := firstDevice(t)
	ctx, err := CreateContext([]*Device{dev})
	must(t, err)
	defer func() { must(t, ctx.Release()); requireNoLeaks(t) }()
	prog, err := ctx.CreateProgramWithSource("__kernel void broken(__global float *x) { x[0] = undefined_name; }")
	must(t, err)
	defer prog.Release()
	err = prog.Build([]*Device{dev}, "")
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want *BuildError, got %v", err)
	}
	wantIs(t, err, ErrBuildProgramFailure)
	if !strings.Contains(be.Log, "undefined_name") || !strings.Contains(err.Error(), "CL_BUILD_PROGRAM_FAILURE") {
		t.Errorf("build error lacks the compiler's message or the status: %v", err)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	dev := firstDevice(t)
	ctx, err := CreateContext([]*Device{dev})
	must(t, err)
	m, err := ctx.CreateBuffer(MemReadWrite, 16)
	must(t, err)
	if live := Live(); live["context"] != 1 || live["mem"] != 1 || len(live) != 2 {
		t.Errorf("live objects %v, want one context and one mem", live)
	}
	must(t, m.Release())
	must(t, m.Release())
	q, err := ctx.CreateCommandQueue(dev, false)
	must(t, err)
	wantIs(t, q.WriteFloat32(m, 0, []float32{1}), ErrInvalidMemObject)
	must(t, q.Release())
	wantIs(t, q.Finish(), ErrInvalidCommandQueue)
	must(t, ctx.Release())
	must(t, ctx.Release())
	_, err = ctx.CreateBuffer(MemReadWrite, 16)
	wantIs(t, err, ErrInvalidContext)
	requireNoLeaks(t)
}
