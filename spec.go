package clattn

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
)

// DeviceEnv is the environment variable that chooses the device where a
// program leaves the choice to the user (spec "" or "auto"; see Resolve).
const DeviceEnv = "CLATTN_DEVICE"

// SpecKind is the family a device spec selects from.
type SpecKind int

const (
	// SpecAuto: the best OpenCL GPU, else the pure-Go CPU backend.
	SpecAuto SpecKind = iota
	// SpecCPU: the pure-Go CPU backend (package cpuref).
	SpecCPU
	// SpecOpenCL: the OpenCL device its gpu.Selector picks.
	SpecOpenCL
)

// Spec is a parsed device selection:
//
//	auto                          best OpenCL GPU, else the pure-Go CPU backend
//	cpu (or go)                   the pure-Go CPU backend
//	opencl                        best OpenCL device of any type
//	opencl:N                      device N as listed by `gpubench devices`
//	opencl:gpu|cpu|accelerator    best OpenCL device of that type
//	opencl:<name substring>       first device whose name contains it (case-insensitive)
//
// PoCL's OpenCL device on the host CPU is opencl:cpu; cpu is the pure-Go backend.
type Spec struct {
	Kind SpecKind
	// Selector is the OpenCL device of SpecOpenCL (Index -1 otherwise).
	gpu.Selector
}

func (s Spec) String() string {
	switch s.Kind {
	case SpecAuto:
		return "auto"
	case SpecCPU:
		return "cpu"
	}
	switch {
	case s.Index >= 0:
		return fmt.Sprintf("opencl:%d", s.Index)
	case s.Type != "":
		return "opencl:" + s.Type
	case s.Name != "":
		return "opencl:" + s.Name
	}
	return "opencl"
}

// ParseSpec reads a device spec (see Spec); "" is auto. It reads no
// environment: Resolve does.
func ParseSpec(text string) (Spec, error) {
	t := strings.TrimSpace(text)
	lower := strings.ToLower(t)
	switch lower {
	case "", "auto":
		return Spec{Kind: SpecAuto, Selector: gpu.Best}, nil
	case "cpu", "go":
		return Spec{Kind: SpecCPU, Selector: gpu.Best}, nil
	case "opencl":
		return Spec{Kind: SpecOpenCL, Selector: gpu.Best}, nil
	}
	rest, ok := strings.CutPrefix(lower, "opencl:")
	if !ok {
		return Spec{}, fmt.Errorf("device spec %q: %w: want auto, cpu, opencl, opencl:N, opencl:gpu|cpu|accelerator or opencl:<name>", text, backend.ErrArgument)
	}
	rest = strings.TrimSpace(rest)
	switch rest {
	case "":
		return Spec{}, fmt.Errorf("device spec %q: %w: nothing after \"opencl:\"", text, backend.ErrArgument)
	case "gpu", "cpu", "accelerator":
		return Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Type: rest}}, nil
	}
	if rest[0] == '-' || rest[0] == '+' {
		return Spec{}, fmt.Errorf("device spec %q: %w: device index must be a non-negative integer", text, backend.ErrArgument)
	}
	if n, err := strconv.Atoi(rest); err == nil {
		return Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: n}}, nil
	}
	return Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Name: strings.TrimSpace(t[len("opencl:"):])}}, nil
}

// Resolve parses the spec Open uses for text: text itself where it names a
// device ("cpu", "opencl:1", ...); where it leaves the choice open ("" or
// "auto", the default of programs and gpubench flags), $CLATTN_DEVICE wins
// when set, and auto stands otherwise. A bad $CLATTN_DEVICE is an error that
// names the variable.
func Resolve(text string) (Spec, error) {
	s, err := ParseSpec(text)
	if err != nil || s.Kind != SpecAuto {
		return s, err
	}
	env := os.Getenv(DeviceEnv)
	if strings.TrimSpace(env) == "" {
		return s, nil
	}
	s, err = ParseSpec(env)
	if err != nil {
		return Spec{}, fmt.Errorf("$%s: %w", DeviceEnv, err)
	}
	return s, nil
}
