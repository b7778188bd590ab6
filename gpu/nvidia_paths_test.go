package gpu_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/golden"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
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
			if !r.Pass && !slices.Contains(goldenDecodingCases, r.Case) {
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

// goldenDecodingCases need grouped-query and float16 K/V attention, which this
// backend gets with its decoding kernels; then this list goes (as golden's).
var goldenDecodingCases = []string{"sdpa_gqa_causal", "sdpa_mqa_decode", "sdpa_kv_f16_gqa", "llama_tiny", "llama_tiny_leftpad_f16kv"}

// TestNVIDIAManyRows runs the row kernels an H100 gets (layer_norm, attn_softmax)
// on more rows than NVIDIA allows work-groups along dimensions 1 and 2, which the
// launcher refuses on every device: rows must run along dimension 0. Every row
// holds its own random data and is checked against the float64 oracle under the
// conformance rule, so a row index that wraps (at 65536, say) cannot pass.
func TestNVIDIAManyRows(t *testing.T) {
	d := gputest.Device(t)
	d.PretendToBe(t, gpu.H100)
	const rows, cols = 70000, 4
	rng := rand.New(rand.NewPCG(70000, 4))
	xData, resData := randomData(rng, rows*cols), randomData(rng, rows*cols)
	gamma, beta := randomData(rng, cols), randomData(rng, cols)
	for i := range xData {
		xData[i] *= 3
	}
	x := mustUpload(t, d, xData, rows, cols)
	res := mustUpload(t, d, resData, rows, cols)
	dst := mustUpload(t, d, make([]float32, rows*cols), rows, cols)
	opt := backend.LayerNormOptions{Gamma: mustUpload(t, d, gamma, cols), Beta: mustUpload(t, d, beta, cols), Residual: res, Eps: 1e-5}
	if err := d.LayerNorm(dst, x, opt); err != nil {
		t.Fatalf("LayerNorm of %d rows: %v", rows, err)
	}
	ref, naive := oracle.LayerNorm(xData, resData, gamma, beta, cols, 1e-5)
	if rep := tolerance.CheckRows(mustDownload(t, d, dst), ref, naive, cols); !rep.OK() {
		t.Errorf("LayerNorm of %d rows: %v", rows, rep)
	}

	scores := randomData(rng, rows*cols)
	for i := range scores {
		scores[i] *= 8
	}
	s := mustUpload(t, d, scores, 1, 2, rows/2, cols)
	if err := d.Softmax(s, s, backend.AttentionOptions{}); err != nil {
		t.Fatalf("Softmax of %d rows: %v", rows, err)
	}
	p := &oracle.Attention{B: 1, H: 2, Sq: rows / 2, Sk: cols}
	s64 := make([]float64, len(scores))
	for i, v := range scores {
		s64[i] = float64(v)
	}
	want, _ := p.Softmax64(s64)
	if rep := tolerance.CheckRows(mustDownload(t, d, s), want, p.Softmax32(scores), cols); !rep.OK() {
		t.Errorf("Softmax of %d rows: %v", rows, rep)
	}
}
