package gpu

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

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
		sel  Selector
		want int
	}{
		{Best, 2},
		{Selector{Index: 0}, 0},
		{Selector{Index: 3}, 3},
		{Selector{Index: -1, Type: "gpu"}, 2},
		{Selector{Index: -1, Type: "cpu"}, 0},
		{Selector{Index: -1, Type: "accelerator"}, 3},
		{Selector{Index: -1, Name: "small"}, 1},
		{Selector{Index: -1, Name: "h100"}, 2},
	} {
		got, err := Choose(c.sel, infos)
		if err != nil || got.Index != c.want {
			t.Errorf("%v chose %d (%v), want %d", c.sel, got.Index, err, c.want)
		}
	}
	for _, s := range []Selector{{Index: 4}, {Index: -1, Name: "radeon"}} {
		if _, err := Choose(s, infos); !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "H100") {
			t.Errorf("%v: %v; want ErrNoDevice listing the devices", s, err)
		}
	}
	gpus := Selector{Index: -1, Type: "gpu"}
	if _, err := Choose(gpus, infos[:1]); !errors.Is(err, ErrNoDevice) {
		t.Errorf("a GPU without one: %v", err)
	}
	if _, err := Choose(gpus, nil); !errors.Is(err, ErrNoDevice) {
		t.Errorf("no devices: %v", err)
	}
}

const helperEnv = "CLATTN_GPU_TEST_HELPER"

// TestNoOpenCLLibrary runs itself in a subprocess whose OpenCL library cannot
// load (the loader runs once per process): Open and Devices must say so.
func TestNoOpenCLLibrary(t *testing.T) {
	if os.Getenv(helperEnv) == "1" {
		_, err := Open(Selector{Index: -1, Type: "gpu"})
		if !errors.Is(err, cl.ErrNoLibrary) || !strings.Contains(err.Error(), "/nonexistent/libOpenCL.so") {
			t.Fatalf("Open without OpenCL: %v", err)
		}
		if _, err := Devices(); err == nil {
			t.Fatal("Devices without OpenCL gave no error")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOpenCLLibrary$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1", LibraryEnv+"=/nonexistent/libOpenCL.so")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNoOpenCLLibrary") {
		t.Fatalf("subprocess: %v\n%s", err, out)
	}
}
