package main

import (
	"runtime"
	"strings"

	"github.com/clattn/clattn/gpu"
)

func cpuCount() int { return runtime.NumCPU() }

// peakGFLOPs estimates a device's fp32 peak as compute units x clock x FP32 lanes
// per unit x 2 (a fused multiply-add is two FLOPs). Lanes per unit by vendor class:
// NVIDIA 128 per SM (Ampere, Ada, Hopper), AMD 64 per CU, Intel 8 per EU, a CPU
// core 16 (two 8-wide FMA pipes). OpenCL reports the maximum clock, so this is an
// upper bound; it returns 0 where the device reports no clock.
func peakGFLOPs(d gpu.DeviceInfo) (float64, string) {
	if d.ClockMHz <= 0 || d.ComputeUnits <= 0 {
		return 0, ""
	}
	vendor := strings.ToLower(d.Vendor + " " + d.Platform)
	lanes, class := 16, "CPU core: two 8-wide FMA pipes"
	switch {
	case d.Type == "gpu" && strings.Contains(vendor, "nvidia"):
		lanes, class = 128, "NVIDIA SM: 128 FP32 lanes"
	case d.Type == "gpu" && (strings.Contains(vendor, "amd") || strings.Contains(vendor, "advanced micro")):
		lanes, class = 64, "AMD CU: 64 FP32 lanes"
	case d.Type == "gpu" && strings.Contains(vendor, "intel"):
		lanes, class = 8, "Intel EU: 8 FP32 lanes"
	case d.Type == "gpu":
		lanes, class = 64, "GPU unit: 64 FP32 lanes assumed"
	}
	peak := float64(d.ComputeUnits) * float64(d.ClockMHz) * float64(lanes) * 2 / 1000
	return peak, "compute units x max clock x " + class + " x 2 FLOPs per FMA"
}
