package clattn

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
)

func TestOpenCPU(t *testing.T) {
	t.Setenv(DeviceEnv, "opencl:no-such-device")
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
	// The variable wins over auto: its missing device is an error, not pure Go,
	// and the error names the variable (the user may never have typed the spec).
	if b, err := Open("auto"); !errors.Is(err, gpu.ErrNoDevice) && err == nil {
		b.Close()
		t.Errorf("Open(auto) with %s=opencl:no-such-device gave %s", DeviceEnv, b.Name())
	} else if err != nil && !strings.HasPrefix(err.Error(), "$CLATTN_DEVICE: device spec \"opencl:no-such-device\": ") {
		t.Errorf("Open(auto) with %s=opencl:no-such-device: %v; want the variable named", DeviceEnv, err)
	}
	if _, err := Open("opencl:no-such-device"); err == nil || strings.Contains(err.Error(), DeviceEnv) {
		t.Errorf("Open(opencl:no-such-device) = %v; want an error about the argument, not the variable", err)
	}
}

const helperEnv = "CLATTN_OPEN_TEST_HELPER"

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
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/libOpenCL.so") || !strings.Contains(err.Error(), `device spec "opencl:gpu"`) {
			t.Fatalf("Open(opencl:gpu) without OpenCL: %v", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOpenCLFallsBackToCPU$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1", gpu.LibraryEnv+"=/nonexistent/libOpenCL.so", DeviceEnv+"=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNoOpenCLFallsBackToCPU") {
		t.Fatalf("subprocess: %v\n%s", err, out)
	}
}
