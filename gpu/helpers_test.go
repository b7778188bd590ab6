package gpu_test

import (
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
)

// randomData is n values drawn uniformly from [-1, 1).
func randomData(rng *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = 2*rng.Float32() - 1
	}
	return d
}

// mustUpload uploads data, released when the test ends.
func mustUpload(t testing.TB, b backend.Backend, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := b.Upload(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Release() })
	return x
}

// mustDownload downloads x.
func mustDownload(t testing.TB, b backend.Backend, x backend.Tensor) []float32 {
	t.Helper()
	out := make([]float32, x.Shape().Numel())
	if err := b.Download(out, x); err != nil {
		t.Fatal(err)
	}
	return out
}
