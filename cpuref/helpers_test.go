package cpuref_test

import (
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// uniform returns n values in [-1, 1).
func uniform(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*r.Float32() - 1
	}
	return x
}

func upload(t *testing.T, be *cpuref.Backend, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := be.Upload(data, shape...)
	noErr(t, err)
	return x
}

func download(t *testing.T, be *cpuref.Backend, x backend.Tensor) []float32 {
	t.Helper()
	out := make([]float32, x.Shape().Numel())
	noErr(t, be.Download(out, x))
	return out
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func truef(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}
