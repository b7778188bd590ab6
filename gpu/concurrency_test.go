package gpu_test

import (
	"testing"

	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/stress"
)

// TestConcurrentOps runs mixed ops (Gemm, Attention fused and unfused, Softmax,
// LayerNorm, FeedForward, PositionalEncoding) from 16 goroutines on one OpenCL
// device and checks every output is bitwise equal to a serial run's: the program
// cache, the per-kernel argument locks and the queue must keep concurrent calls
// apart.
func TestConcurrentOps(t *testing.T) {
	d := gputest.Device(t)
	perOp := 2
	if testing.Short() {
		perOp = 1
	}
	stress.Concurrent(t, d, stress.Mixed(1, perOp), 16)
}
