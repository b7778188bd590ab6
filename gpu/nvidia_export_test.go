package gpu

import "testing"

// H100 is the DeviceInfo that NVIDIA's OpenCL driver reports for an H100 SXM
// (80 GB): 48 KB of local memory per work-group, work-groups of up to 1024.
var H100 = DeviceInfo{
	Platform: "NVIDIA CUDA", Name: "NVIDIA H100 80GB HBM3", Vendor: "NVIDIA Corporation", Type: "gpu",
	ComputeUnits: 132, ClockMHz: 1980, GlobalMem: 80 << 30, LocalMem: 49152, MaxAlloc: 20 << 30,
	MaxWorkGroupSize: 1024, MaxWorkItemSizes: []int{1024, 1024, 64},
	OpenCLC: "OpenCL C 1.2 ", DriverVersion: "550.54.15", FP64: true, TimerResolutionNs: 1000,
}

// PretendToBe makes d choose its kernels, tiles and paths as it would on the
// device info describes, while still running them on its own OpenCL device,
// until the test ends. Tests must not run in parallel on d meanwhile.
func (d *Device) PretendToBe(t testing.TB, info DeviceInfo) {
	orig := d.info
	info.Index, info.dev = orig.Index, orig.dev
	d.setInfo(info)
	t.Cleanup(func() { d.setInfo(orig) })
}
