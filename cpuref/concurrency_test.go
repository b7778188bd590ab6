package cpuref_test

import (
	"testing"

	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/internal/stress"
)

// TestConcurrentOps runs mixed ops (Gemm, Attention fused and unfused, Softmax,
// LayerNorm, FeedForward, PositionalEncoding) from 16 goroutines on one backend
// and checks every output is bitwise equal to a serial run's.
func TestConcurrentOps(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	perOp := 3
	if testing.Short() {
		perOp = 1
	}
	stress.Concurrent(t, b, stress.Mixed(1, perOp), 16)
}
