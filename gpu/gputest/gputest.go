// Package gputest gives tests the OpenCL devices of this machine: a test that
// needs one calls Device or Devices, which skip the test where no OpenCL
// platform exists, or fail it where CLATTN_REQUIRE_OPENCL=1 (CI with PoCL).
// Devices are closed by t.Cleanup, which then checks that no OpenCL object
// leaked.
package gputest

import (
	"os"
	"sync"
	"testing"

	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/internal/cl"
)

// RequireEnv is the environment variable that turns a missing OpenCL platform
// from a skip into a failure.
const RequireEnv = "CLATTN_REQUIRE_OPENCL"

var (
	openMu sync.Mutex
	opened int // devices opened by this package and not yet closed
)

// Device opens the first OpenCL device, closed when the test ends.
func Device(t testing.TB) *gpu.Device {
	t.Helper()
	return openAll(t, list(t)[:1])[0]
}

// Devices opens every OpenCL device, each closed when the test ends.
func Devices(t testing.TB) []*gpu.Device {
	t.Helper()
	return openAll(t, list(t))
}

// list returns the OpenCL devices, skipping or failing the test where there are none.
func list(t testing.TB) []gpu.DeviceInfo {
	t.Helper()
	infos, err := gpu.Devices()
	if err == nil && len(infos) == 0 {
		err = gpu.ErrNoDevice
	}
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("no OpenCL device (%s=1): %v", RequireEnv, err)
		}
		t.Skipf("no OpenCL device, skipping (set %s=1 to fail instead): %v", RequireEnv, err)
	}
	return infos
}

func openAll(t testing.TB, infos []gpu.DeviceInfo) []*gpu.Device {
	t.Helper()
	devs := make([]*gpu.Device, len(infos))
	for i, info := range infos {
		d, err := gpu.OpenDevice(info)
		if err != nil {
			t.Fatalf("opening %s: %v", info.Name, err)
		}
		openMu.Lock()
		opened++
		openMu.Unlock()
		t.Cleanup(func() { closeAndCheck(t, d) })
		devs[i] = d
	}
	return devs
}

// closeAndCheck closes d and, once no device of this package is open, fails the
// test if any OpenCL object is still alive.
func closeAndCheck(t testing.TB, d *gpu.Device) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Errorf("closing %s: %v", d.Name(), err)
	}
	openMu.Lock()
	defer openMu.Unlock()
	opened--
	if opened == 0 {
		if live := cl.Live(); len(live) != 0 {
			t.Errorf("OpenCL objects leaked after closing %s: %v", d.Name(), live)
		}
	}
}
