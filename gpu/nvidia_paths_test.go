package gpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/golden"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/tolerance"
)

// TestNVIDIAPaths runs every operation on this machine's OpenCL device (PoCL in
// CI) with the kernels, tiles and paths an H100 gets (gpu.H100): flash.cl,
// attn_bmm and attn_softmax instead of their CPU variants, the 128 x 128 and
// 64 x 64 GEMM tilings, the two-GEMM FeedForward and the attention tiles shrunk
// for 48 KB of local memory. It checks results against the float64 references
// and the golden cases, so the GPU's exact code paths are tested before they
// meet the GPU.
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

	t.Run("attention", func(t *testing.T) {
		// Head dims from 8 (DKP 8) to 128 (tiles shrunk to fit 48 KB), odd sizes,
		// every mask kind, key tiles cut by causality.
		for _, c := range []attnCase{
			{b: 1, h: 2, sq: 65, sk: 130, dk: 8, dv: 8, causal: backend.CausalTopLeft},
			{b: 2, h: 1, sq: 33, sk: 47, dk: 40, dv: 40, mask: "bool4", pad: true, fullyMasked: true},
			{b: 1, h: 2, sq: 129, sk: 129, dk: 64, dv: 64, causal: backend.CausalBottomRight, pad: true},
			{b: 1, h: 2, sq: 70, sk: 97, dk: 64, dv: 64, mask: "add", packed: true},
			{b: 1, h: 1, sq: 50, sk: 90, dk: 72, dv: 72, mask: "bool"},
			{b: 1, h: 1, sq: 33, sk: 257, dk: 24, dv: 128, mask: "add4"},
			{b: 1, h: 2, sq: 97, sk: 70, dk: 128, dv: 128, causal: backend.CausalTopLeft, pad: true},
			{b: 1, h: 1, sq: 40, sk: 33, dk: 100, dv: 100, causal: backend.CausalBottomRight},
		} {
			t.Run(c.String(), func(t *testing.T) { runAttention(t, d, c) })
		}
	})

	t.Run("gemm", func(t *testing.T) {
		// 1 compute unit keeps the 128 x 128 tiling for every size; 132 gives the
		// small cases the 64 x 64 one, as on the GPU.
		for _, units := range []int{1, gpu.H100.ComputeUnits} {
			info := gpu.H100
			info.ComputeUnits = units
			d.PretendToBe(t, info)
			for ci, c := range gemmCases() {
				checkGemmCase(t, d, c, uint64(ci))
			}
		}
	})

	t.Run("feedforward", func(t *testing.T) {
		// Two GEMMs on a GPU at every size, the hidden layer in a scratch tensor.
		rng := rand.New(rand.NewPCG(5, 11))
		const rows, dm, dff = 133, 72, 200
		rnd := func(n int) []float32 { return denseView(1, 1, n).fill(rng)[:n] }
		hx, hw1, hb1, hw2, hb2 := rnd(rows*dm), rnd(dff*dm), rnd(dff), rnd(dm*dff), rnd(dm)
		x := gemmUpload(t, d, hx, rows, dm)
		w := backend.FFNWeights{W1: gemmUpload(t, d, hw1, dff, dm), B1: gemmUpload(t, d, hb1, dff),
			W2: gemmUpload(t, d, hw2, dm, dff), B2: gemmUpload(t, d, hb2, dm)}
		// In place, the input as residual, as an encoder layer calls it.
		gemmNoErr(t, d.FeedForward(x, x, w, backend.FFNOptions{Activation: backend.GELU, Residual: x}))
		got := make([]float32, rows*dm)
		gemmNoErr(t, d.Download(got, x))
		ref, naive := refFeedForward(hx, hw1, hb1, hw2, hb2, hx, rows, dm, dff, backend.GELU)
		if r := tolerance.CheckRows(got, ref, naive, dm); !r.OK() {
			t.Fatal(r)
		}
	})
}

// checkGemmCase runs one case of gemmCases on d and checks it against the
// float64 reference, and that dst's gaps keep their NaN.
func checkGemmCase(t *testing.T, d *gpu.Device, c gemmCase, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	ha, hb, hc := c.a.fill(rng), c.b.fill(rng), c.c.fill(rng)
	if c.nanDst {
		for i := range hc {
			hc[i] = float32(math.NaN())
		}
	}
	opt := c.opt
	var hbias, hres []float32
	if c.bias {
		hbias = denseView(1, 1, c.n).fill(rng)[:c.n]
		opt.Bias = gemmUpload(t, d, hbias, c.n)
	}
	if c.residual != nil {
		hres = c.residual.fill(rng)
		r := c.residual.mat(gemmUpload(t, d, hres, len(hres)))
		opt.Residual = &r
	}
	ta, tb, tc := gemmUpload(t, d, ha, len(ha)), gemmUpload(t, d, hb, len(hb)), gemmUpload(t, d, hc, len(hc))
	gemmNoErr(t, d.Gemm(c.c.mat(tc), c.a.mat(ta), c.b.mat(tb), opt))
	got := make([]float32, len(hc))
	gemmNoErr(t, d.Download(got, tc))
	ref, naive := refGemm(c, ha, hb, hc, hbias, hres)
	var view []float32
	inView := make([]bool, len(hc))
	for bt := range c.c.batch {
		for i := range c.m {
			for j := range c.n {
				view = append(view, got[c.c.at(bt, i, j)])
				inView[c.c.at(bt, i, j)] = true
			}
		}
	}
	if r := tolerance.CheckRows(view, ref, naive, c.n); !r.OK() {
		t.Fatalf("%s (%d compute units): %v", c.name, d.Info().ComputeUnits, r)
	}
	for i, v := range got {
		if !inView[i] && !math.IsNaN(float64(v)) {
			t.Fatalf("%s: gap element %d of dst was overwritten with %g", c.name, i, v)
		}
	}
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
