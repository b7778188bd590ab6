package gpu

import (
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
)

func TestGemmConfigsValid(t *testing.T) {
	for _, c := range []gemmConfig{gemmConfigCPU, gemmConfigNVIDIA, gemmConfigGeneric, gemmConfigSmall} {
		if err := c.valid(); err != nil {
			t.Error(err)
		}
	}
	// The GPU tilings read A from local memory in float4s, the CPU one in scalars.
	for c, want := range map[gemmConfig]int{gemmConfigCPU: 1, gemmConfigNVIDIA: 4, gemmConfigGeneric: 4, gemmConfigSmall: 4} {
		if got := c.aVecWidth(); got != want {
			t.Errorf("%+v: A read in vectors of %d, want %d", c, got, want)
		}
	}
	nvidia := DeviceInfo{Type: "gpu", Vendor: "NVIDIA Corporation", LocalMem: 48 << 10, MaxWorkGroupSize: 1024}
	if c := ProfileOf(nvidia).gemm; c != gemmConfigNVIDIA {
		t.Errorf("NVIDIA: got %+v", c)
	}
	nvidia.ComputeUnits = 132
	if c := gemmConfigSized(ProfileOf(nvidia).gemm, ProfileOf(nvidia), nvidia, backend.GemmDims{Batch: 1, M: 512, N: 512, K: 512}); c != gemmConfigGeneric {
		t.Errorf("NVIDIA, 16 tiles of 128 for 132 units: got %+v", c)
	}
	if c := gemmConfigSized(ProfileOf(nvidia).gemm, ProfileOf(nvidia), nvidia, backend.GemmDims{Batch: 16, M: 512, N: 512, K: 64}); c != gemmConfigNVIDIA {
		t.Errorf("NVIDIA, 256 tiles of 128 for 132 units: got %+v", c)
	}
	intelCPU := DeviceInfo{Type: "cpu", Vendor: "Intel(R) Corporation", LocalMem: 32 << 10, MaxWorkGroupSize: 8192}
	if c := ProfileOf(intelCPU).gemm; c != gemmConfigGeneric {
		t.Errorf("CPU with 32 KB local memory: got %+v", c)
	}
	tiny := DeviceInfo{Type: "gpu", Vendor: "Imaginary", LocalMem: 16 << 10, MaxWorkGroupSize: 128}
	if c := ProfileOf(tiny).gemm; c != gemmConfigSmall {
		t.Errorf("small device: got %+v", c)
	}
}

// TestGemmTilings runs the GPU tilings on whatever OpenCL device there is (PoCL in
// CI), so that a tiling is checked before it meets its hardware: the device's
// vendor is rewritten to select each one.
func TestGemmTilings(t *testing.T) {
	d := openFirst(t)
	orig := d.info
	for _, v := range []struct {
		vendor   string
		localMem int64
		want     gemmConfig
	}{
		{"NVIDIA Corporation", orig.LocalMem, gemmConfigNVIDIA},
		{"Advanced Micro Devices, Inc.", orig.LocalMem, gemmConfigGeneric},
		{"Imaginary", 8 << 10, gemmConfigSmall},
	} {
		// One compute unit: gemmConfigSized keeps the device's tiling.
		info := orig
		info.Type, info.Vendor, info.ComputeUnits, info.LocalMem = "gpu", v.vendor, 1, v.localMem
		restore := d.ChooseAs(info)
		if c := d.profile.gemm; c != v.want {
			t.Logf("%s: tiling %+v does not fit %s", v.vendor, v.want, d.info.Name)
			restore()
			continue
		}
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			checkGemmOnce(t, d, v.vendor, 133, 70, 37, tr[0], tr[1])
		}
		restore()
	}
}

// checkGemmOnce compares one contiguous Gemm with the oracle.
func checkGemmOnce(t *testing.T, d *Device, what string, m, n, k int, ta, tb bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 2*rng.Float32() - 1
		}
		return x
	}
	ha, hb := rnd(m*k), rnd(k*n)
	ar, ac, br, bc := m, k, k, n
	if ta {
		ar, ac = k, m
	}
	if tb {
		br, bc = n, k
	}
	a, err := d.Upload(ha, ar, ac)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Upload(hb, br, bc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Alloc(m, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Gemm(backend.MatOf(c), backend.MatOf(a), backend.MatOf(b), backend.GemmOptions{TransA: ta, TransB: tb}); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, m*n)
	if err := d.Download(got, c); err != nil {
		t.Fatal(err)
	}
	ref, naive := (&oracle.Gemm{A: ha, B: hb, Batch: 1, M: m, N: n, K: k,
		AV: backend.Mat{Batch: 1, Rows: ar, Cols: ac, RowStride: ac},
		BV: backend.Mat{Batch: 1, Rows: br, Cols: bc, RowStride: bc}, Opt: backend.GemmOptions{TransA: ta, TransB: tb}}).Run()
	if r := tolerance.CheckRows(got, ref, naive, n); !r.OK() {
		t.Fatalf("%s ta=%v tb=%v: %v", what, ta, tb, r)
	}
}
