package gpu_test

import (
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/golden"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
)

// TestNVIDIAPaths runs, on this machine's OpenCL device (PoCL in CI) with the
// kernels, tiles and paths an H100 gets (gpu.H100), what TestConformanceAsH100
// does not: the golden cases, and the 128 x 128 GEMM tiling on every size. With
// TestConformanceAsH100 (flash.cl, attn_bmm and attn_softmax instead of their
// CPU variants, the 64 x 64 GEMM tiling, the two-GEMM FeedForward, attention
// tiles shrunk for 48 KB of local memory), the GPU's exact code paths are tested
// before they meet the GPU.
func TestNVIDIAPaths(t *testing.T) {
	d := gputest.Device(t)
	d.PretendToBe(t, gpu.H100)

	t.Run("golden", func(t *testing.T) {
		results, err := golden.RunDir(d, "../testdata/golden")
		if err != nil {
			t.Fatal(err)
		}
		if len(results) == 0 {
			t.Fatal("no golden results")
		}
		for _, r := range results {
			if !r.Pass {
				t.Errorf("%v", r)
			}
		}
	})

	t.Run("gemm", func(t *testing.T) {
		// With 1 compute unit the 128 x 128 tiling serves every size (with 132,
		// as TestConformanceAsH100 runs, small products take the 64 x 64 one);
		// the FeedForward of that device takes its two-GEMM path.
		info := gpu.H100
		info.ComputeUnits = 1
		d.PretendToBe(t, info)
		backendtest.RunOps(t, d, "Gemm", "FeedForward")
	})
}

// TestNVIDIAManyRows runs the row kernels an H100 gets (layer_norm, attn_softmax)
// on more rows than NVIDIA allows work-groups along dimensions 1 and 2, which the
// launcher refuses on every device: rows must run along dimension 0.
func TestNVIDIAManyRows(t *testing.T) {
	d := gputest.Device(t)
	d.PretendToBe(t, gpu.H100)
	const rows = 70000
	x, err := d.Upload(make([]float32, rows*4), rows, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	if err := d.LayerNorm(x, x, backend.LayerNormOptions{}); err != nil {
		t.Errorf("LayerNorm of %d rows: %v", rows, err)
	}
	s, err := d.Upload(make([]float32, rows*4), 1, 2, rows/2, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	if err := d.Softmax(s, s, backend.AttentionOptions{}); err != nil {
		t.Errorf("Softmax of %d rows: %v", rows, err)
	}
	got := make([]float32, rows*4)
	if err := d.Download(got, s); err != nil {
		t.Fatal(err)
	}
	if got[0] != 0.25 || got[len(got)-1] != 0.25 {
		t.Errorf("softmax of zeros: %g ... %g, want 0.25", got[0], got[len(got)-1])
	}
}
