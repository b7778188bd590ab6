package clattn

import (
	"fmt"
	"os"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu"
)

// bestGPU is what auto selects where there is OpenCL.
var bestGPU = gpu.Selector{Index: -1, Type: "gpu"}

// Open returns the backend spec selects (see Spec and Resolve: "" and "auto"
// defer to $CLATTN_DEVICE where it is set). auto opens the best OpenCL GPU
// and falls back to the pure-Go backend where there is none (or no OpenCL at
// all); an opencl spec is an error where its device is missing, wrapping
// gpu.ErrNoDevice or the loader's error. OpenCL devices get their entry of the
// tuning cache (see gpu.Open).
func Open(spec string) (backend.Backend, error) {
	s, err := Resolve(spec)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case SpecCPU:
		return cpuref.New(), nil
	case SpecAuto:
		// No OpenCL, or no GPU: pure Go. A GPU that fails to open is an error.
		infos, err := gpu.Devices()
		if err != nil {
			return cpuref.New(), nil
		}
		if _, err := gpu.Choose(bestGPU, infos); err != nil {
			return cpuref.New(), nil
		}
		s.Selector = bestGPU
	}
	d, err := gpu.Open(s.Selector)
	if err != nil {
		if fromEnvironment(spec) {
			return nil, fmt.Errorf("$%s: device spec %q: %w", DeviceEnv, s, err)
		}
		return nil, fmt.Errorf("device spec %q: %w", s, err)
	}
	return d, nil
}

// fromEnvironment reports whether Resolve takes the spec of text from $CLATTN_DEVICE.
func fromEnvironment(text string) bool {
	s, err := ParseSpec(text)
	return err == nil && s.Kind == SpecAuto && strings.TrimSpace(os.Getenv(DeviceEnv)) != ""
}
