package backend

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// SpecEnv is the environment variable read when no device spec is given.
const SpecEnv = "CLATTN_DEVICE"

// SpecKind is the family a device spec selects from.
type SpecKind int

const (
	// SpecAuto: the best OpenCL GPU, else the pure-Go CPU backend.
	SpecAuto SpecKind = iota
	// SpecCPU: the pure-Go CPU backend.
	SpecCPU
	// SpecOpenCL: an OpenCL device, narrowed by Index, Type or Name.
	SpecOpenCL
)

// Spec is a parsed device selection:
//
//	auto                          best OpenCL GPU, else the pure-Go CPU backend
//	cpu                           the pure-Go CPU backend
//	opencl                        best OpenCL device of any type
//	opencl:N                      device N as listed by `gpubench devices`
//	opencl:gpu|cpu|accelerator    best OpenCL device of that type
//	opencl:<name substring>       first device whose name contains it (case-insensitive)
type Spec struct {
	Kind  SpecKind
	Index int    // >= 0 for opencl:N, else -1
	Type  string // "gpu", "cpu" or "accelerator" for opencl:TYPE, else ""
	Name  string // the substring of opencl:<name>, else ""
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

// ParseSpec reads a device spec (see Spec). The empty string means $CLATTN_DEVICE,
// or auto where that is unset.
func ParseSpec(text string) (Spec, error) {
	if strings.TrimSpace(text) == "" {
		text = os.Getenv(SpecEnv)
	}
	t := strings.TrimSpace(text)
	lower := strings.ToLower(t)
	switch lower {
	case "", "auto":
		return Spec{Kind: SpecAuto, Index: -1}, nil
	case "cpu", "go":
		return Spec{Kind: SpecCPU, Index: -1}, nil
	case "opencl":
		return Spec{Kind: SpecOpenCL, Index: -1}, nil
	}
	rest, ok := strings.CutPrefix(lower, "opencl:")
	if !ok {
		return Spec{}, fmt.Errorf("device spec %q: %w: want auto, cpu, opencl, opencl:N, opencl:gpu|cpu|accelerator or opencl:<name>", text, ErrArgument)
	}
	rest = strings.TrimSpace(rest)
	switch rest {
	case "":
		return Spec{}, fmt.Errorf("device spec %q: %w: nothing after \"opencl:\"", text, ErrArgument)
	case "gpu", "cpu", "accelerator":
		return Spec{Kind: SpecOpenCL, Index: -1, Type: rest}, nil
	}
	if rest[0] == '-' || rest[0] == '+' {
		return Spec{}, fmt.Errorf("device spec %q: %w: device index must be a non-negative integer", text, ErrArgument)
	}
	if n, err := strconv.Atoi(rest); err == nil {
		return Spec{Kind: SpecOpenCL, Index: n}, nil
	}
	return Spec{Kind: SpecOpenCL, Index: -1, Name: strings.TrimSpace(t[len("opencl:"):])}, nil
}
