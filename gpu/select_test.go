package gpu

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
)

func TestChoose(t *testing.T) {
	infos := []DeviceInfo{
		{Index: 0, Name: "pthread-skylake", Type: "cpu", ComputeUnits: 64, ClockMHz: 3000},
		{Index: 1, Name: "Small GPU", Type: "gpu", ComputeUnits: 8, ClockMHz: 1000},
		{Index: 2, Name: "NVIDIA H100 80GB HBM3", Type: "gpu", ComputeUnits: 132, ClockMHz: 1980},
		{Index: 3, Name: "FPGA thing", Type: "accelerator", ComputeUnits: 2, ClockMHz: 300},
	}
	for _, c := range []struct {
		spec string
		want int
	}{
		{"opencl", 2},
		{"opencl:0", 0},
		{"opencl:3", 3},
		{"opencl:gpu", 2},
		{"opencl:cpu", 0},
		{"opencl:accelerator", 3},
		{"opencl:small", 1},
		{"opencl:h100", 2},
	} {
		s, err := backend.ParseSpec(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := choose(s, infos)
		if err != nil || got.Index != c.want {
			t.Errorf("%s chose %d (%v), want %d", c.spec, got.Index, err, c.want)
		}
	}
	for _, spec := range []string{"opencl:4", "opencl:radeon"} {
		s, _ := backend.ParseSpec(spec)
		if _, err := choose(s, infos); !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "H100") {
			t.Errorf("%s: %v; want ErrNoDevice listing the devices", spec, err)
		}
	}
	s, _ := backend.ParseSpec("opencl:gpu")
	if _, err := choose(s, infos[:1]); !errors.Is(err, ErrNoDevice) {
		t.Errorf("opencl:gpu without a GPU: %v", err)
	}
	if _, err := choose(s, nil); !errors.Is(err, ErrNoDevice) {
		t.Errorf("no devices: %v", err)
	}
}

func TestOpenCPU(t *testing.T) {
	b, err := Open("cpu")
	if err != nil || b.Name() != "cpu" {
		t.Fatalf("Open(cpu) = %v, %v", b, err)
	}
	if err := b.Close(); err != nil {
		t.Error(err)
	}
	if _, err := Open("cuda:0"); !errors.Is(err, backend.ErrArgument) {
		t.Errorf("Open(cuda:0): %v", err)
	}
}

const helperEnv = "CLATTN_GPU_TEST_HELPER"

// TestNoOpenCLFallsBackToCPU runs itself in a subprocess whose OpenCL library
// cannot load (the loader runs once per process): auto must give cpuref and an
// opencl spec a clear error.
func TestNoOpenCLFallsBackToCPU(t *testing.T) {
	if os.Getenv(helperEnv) == "1" {
		b, err := Open("auto")
		if err != nil {
			t.Fatalf("Open(auto): %v", err)
		}
		defer b.Close()
		if b.Name() != "cpu" {
			t.Fatalf("Open(auto) without OpenCL gave %s", b.Name())
		}
		_, err = Open("opencl:gpu")
		if !errors.Is(err, cl.ErrNoLibrary) || !strings.Contains(err.Error(), "/nonexistent/libOpenCL.so") {
			t.Fatalf("Open(opencl:gpu) without OpenCL: %v", err)
		}
		if _, err := Devices(); err == nil {
			t.Fatal("Devices without OpenCL gave no error")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOpenCLFallsBackToCPU$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1", cl.LibraryEnv+"=/nonexistent/libOpenCL.so", backend.SpecEnv+"=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNoOpenCLFallsBackToCPU") {
		t.Fatalf("subprocess: %v\n%s", err, out)
	}
}
