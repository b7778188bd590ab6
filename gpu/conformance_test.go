package gpu_test

import (
	"testing"

	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
)

// TestConformance runs the backend conformance suite on every OpenCL device
// (PoCL in CI), the same suite the pure-Go backend passes.
func TestConformance(t *testing.T) {
	for _, d := range gputest.Devices(t) {
		t.Run(d.Info().Name, func(t *testing.T) {
			if testing.Short() {
				backendtest.RunShort(t, d)
				return
			}
			backendtest.Run(t, d)
		})
	}
}

// TestConformanceAsH100 runs the same suite with the kernels, tiles and paths an
// H100 gets (flash.cl, attn_bmm, the 128x128 GEMM, the two-GEMM FFN, tiles fitted
// to 48 KB of local memory), on this machine's device: the GPU's code paths meet
// every shape and edge case before they meet the GPU.
func TestConformanceAsH100(t *testing.T) {
	d := gputest.Device(t)
	d.PretendToBe(t, gpu.H100)
	if testing.Short() {
		backendtest.RunShort(t, d)
		return
	}
	backendtest.Run(t, d)
}
