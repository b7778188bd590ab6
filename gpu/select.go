package gpu

import (
	"fmt"
	"slices"
	"strings"
)

// Selector picks one OpenCL device of Devices: by Index where it is >= 0,
// else the best of Type where that is set, else the first whose name contains
// Name (ignoring case), else the best device of any type. Package clattn
// reads selectors from device specs ("opencl:1", "opencl:gpu", ...).
//
// "Best" ranks GPUs before accelerators before CPUs, then by compute units x
// clock (a rough proxy for throughput), then by index.
type Selector struct {
	Index int    // entry of Devices; -1 for none
	Type  string // "gpu", "accelerator", "cpu" or ""
	Name  string // a substring of the device name, or ""
}

// Best selects the best device of any type.
var Best = Selector{Index: -1}

// String says what s selects, as an error message quotes it.
func (s Selector) String() string {
	switch {
	case s.Index >= 0:
		return fmt.Sprintf("device %d", s.Index)
	case s.Type != "":
		return "the best " + s.Type
	case s.Name != "":
		return fmt.Sprintf("a device named like %q", s.Name)
	}
	return "the best device"
}

// Open opens the device s selects and applies its entry of the tuning cache
// (DefaultTuningCachePath, written by gpubench tune; $CLATTN_TUNING_CACHE=off
// skips it), where one was made with this build's kernels. A missing,
// unreadable or corrupt cache is ignored and leaves the shipped tiles: read it
// with LoadTuningCache to see why. OpenDevice reads no file: it always starts
// from the shipped tiles.
func Open(s Selector) (*Device, error) {
	infos, err := Devices()
	if err != nil {
		return nil, err
	}
	info, err := Choose(s, infos)
	if err != nil {
		return nil, err
	}
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

// Choose picks the device s selects from infos (as Devices lists them); an
// error wraps ErrNoDevice and lists the devices there are.
func Choose(s Selector, infos []DeviceInfo) (DeviceInfo, error) {
	if len(infos) == 0 {
		return DeviceInfo{}, fmt.Errorf("gpu: %s: %w: no OpenCL device found", s, ErrNoDevice)
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
		names[i] = fmt.Sprintf("%d: %s (%s)", info.Index, info.Name, info.Type)
	}
	return DeviceInfo{}, fmt.Errorf("gpu: %s: %w; devices: %s", s, ErrNoDevice, strings.Join(names, ", "))
}
