package gpu_test

import (
	"testing"

	"github.com/clattn/clattn/backend/backendtest"
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
