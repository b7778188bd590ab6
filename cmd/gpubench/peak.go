package main

import (
	"runtime"

	"github.com/clattn/clattn/gpu"
)

func cpuCount() int { return runtime.NumCPU() }

// peakGFLOPs estimates a device's fp32 peak as compute units x clock x FP32 lanes
// per unit (its gpu.Profile: NVIDIA 128 per SM, AMD 64 per CU, Intel 8 per EU, a
// CPU core 16) x 2 (a fused multiply-add is two FLOPs). OpenCL reports the
// maximum clock, so this is an upper bound; it returns 0 where the device
// reports no clock.
func peakGFLOPs(d gpu.DeviceInfo) (float64, string) {
	if d.ClockMHz <= 0 || d.ComputeUnits <= 0 {
		return 0, ""
	}
	p := gpu.ProfileOf(d)
	peak := float64(d.ComputeUnits) * float64(d.ClockMHz) * float64(p.LanesPerUnit) * 2 / 1000
	return peak, "compute units x max clock x " + p.LanesNote + " x 2 FLOPs per FMA"
}
