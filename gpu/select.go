package gpu

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// Open returns the backend a device spec selects (see backend.Spec; "" reads
// $CLATTN_DEVICE):
//
//	auto         the best OpenCL GPU, else the pure-Go cpuref backend
//	cpu          cpuref
//	opencl       the best OpenCL device of any type
//	opencl:N     entry N of Devices
//	opencl:gpu   the best device of that type (also cpu, accelerator)
//	opencl:NAME  the first device whose name contains NAME, ignoring case
//
// "Best" ranks GPUs before accelerators before CPUs, then by compute units x
// clock (a rough proxy for throughput), then by index. A machine without
// OpenCL gets cpuref from auto and an error from every opencl spec.
//
// Open applies the device's entry of the tuning cache (DefaultTuningCachePath,
// written by gpubench tune; $CLATTN_TUNING_CACHE=off skips it), where one was
// made with this build's kernels. A missing, unreadable or corrupt cache is
// ignored and leaves the shipped tiles: read it with LoadTuningCache to see why.
// OpenDevice reads no file: it always starts from the shipped tiles.
func Open(spec string) (backend.Backend, error) {
	s, err := backend.ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case backend.SpecCPU:
		return cpuref.New(), nil
	case backend.SpecAuto:
		infos, err := Devices()
		if err != nil {
			return cpuref.New(), nil
		}
		info, err := choose(backend.Spec{Kind: backend.SpecOpenCL, Index: -1, Type: "gpu"}, infos)
		if err != nil {
			return cpuref.New(), nil
		}
		return openTuned(info)
	}
	infos, err := Devices()
	if err != nil {
		return nil, fmt.Errorf("device spec %q: %w", s, err)
	}
	info, err := choose(s, infos)
	if err != nil {
		return nil, err
	}
	return openTuned(info)
}

// openTuned is OpenDevice with the tuning cache applied (see Open).
func openTuned(info DeviceInfo) (backend.Backend, error) {
	d, err := OpenDevice(info)
	if err != nil {
		return nil, err
	}
	d.applyTuningCache()
	return d, nil
}

// rank orders devices for "best": GPU, accelerator, CPU, then compute units x
// clock, higher first, then index.
func rank(infos []DeviceInfo) []DeviceInfo {
	typeOrder := map[string]int{"gpu": 0, "accelerator": 1, "cpu": 2}
	order := func(t string) int {
		if o, ok := typeOrder[t]; ok {
			return o
		}
		return len(typeOrder)
	}
	ranked := slices.Clone(infos)
	slices.SortStableFunc(ranked, func(a, b DeviceInfo) int {
		if oa, ob := order(a.Type), order(b.Type); oa != ob {
			return oa - ob
		}
		pa, pb := a.ComputeUnits*a.ClockMHz, b.ComputeUnits*b.ClockMHz
		if pa != pb {
			return pb - pa
		}
		return a.Index - b.Index
	})
	return ranked
}

// choose picks the device an OpenCL spec selects from infos.
func choose(s backend.Spec, infos []DeviceInfo) (DeviceInfo, error) {
	if len(infos) == 0 {
		return DeviceInfo{}, fmt.Errorf("gpu: device spec %q: %w: no OpenCL device found", s, ErrNoDevice)
	}
	switch {
	case s.Index >= 0:
		if s.Index < len(infos) {
			return infos[s.Index], nil
		}
	case s.Type != "":
		for _, info := range rank(infos) {
			if info.Type == s.Type {
				return info, nil
			}
		}
	case s.Name != "":
		for _, info := range infos {
			if strings.Contains(strings.ToLower(info.Name), strings.ToLower(s.Name)) {
				return info, nil
			}
		}
	default:
		return rank(infos)[0], nil
	}
	names := make([]string, len(infos))
	for i, info := range infos {
		names[i] = fmt.Sprintf("opencl:%d %s (%s)", info.Index, info.Name, info.Type)
	}
	return DeviceInfo{}, fmt.Errorf("gpu: device spec %q: %w; devices: %s", s, ErrNoDevice, strings.Join(names, ", "))
}
