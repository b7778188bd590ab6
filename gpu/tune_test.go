package gpu_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
)

// TestTuneTiny tunes with tiny shapes and one extra candidate per kernel plus
// one the device cannot hold: the winners are valid, applied and used. Then it
// tunes again with the budget spent.
func TestTuneTiny(t *testing.T) {
	d := gputest.Device(t)
	info := d.Info()
	def := gpu.DefaultTuning(info)
	small := gpu.GemmTiles{TM: 32, TN: 32, TK: 8, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}
	huge := gpu.GemmTiles{TM: 128, TN: 128, TK: 8, WPTM: 1, WPTN: 1, VWN: 1, LVW: 1} // 16384 work-items
	att := *def.Attention
	if att.CPU {
		att.NW *= 2
	} else {
		att.BM *= 2
	}
	var seen []gpu.TuneCandidate
	res, err := gpu.Tune(d, gpu.TuneOptions{
		Budget: 20 * time.Second, GemmSize: 64, Seq: 64, Reps: 1,
		Gemm: []gpu.GemmTiles{small, huge}, Attention: []gpu.AttentionTiles{att},
		Progress: func(c gpu.TuneCandidate) { seen = append(seen, c) },
	})
	require.NoError(t, err)
	require.Equal(t, "64x64x64", res.GemmShape)
	require.Equal(t, "1x8x64x64", res.AttentionShape)
	require.Len(t, res.Candidates, 5)
	require.Len(t, seen, len(res.Candidates), "progress reports every candidate tried")
	for i, c := range seen {
		// The default and the winner may have been timed again since.
		require.Equal(t, res.Candidates[i].Tiles, c.Tiles)
		require.GreaterOrEqual(t, c.Time, res.Candidates[i].Time)
	}

	byTiles := map[string]gpu.TuneCandidate{}
	for _, c := range res.Candidates {
		byTiles[c.Tiles] = c
	}
	require.True(t, byTiles[def.Gemm.String()].Default)
	require.ErrorContains(t, byTiles[huge.String()].Err, "work-items")
	for _, tiles := range []string{def.Gemm.String(), small.String(), def.Attention.String(), att.String()} {
		c := byTiles[tiles]
		require.NoError(t, c.Err, tiles)
		require.Positive(t, c.Time, tiles)
		require.Positive(t, c.GFLOPs, tiles)
	}

	require.NoError(t, res.Tuning.Validate(info))
	require.Equal(t, res.Gemm.Tiles, d.Tuning().Gemm.String(), "the winners are applied")
	require.Equal(t, res.Attention.Tiles, d.Tuning().Attention.String(), "the winners are applied")
	require.NotEqual(t, huge.String(), res.Gemm.Tiles)
	require.Equal(t, res.Gemm.Default, res.Tuning.Gemm == nil, "a default winner is left to the shipped table")
	require.Equal(t, res.Attention.Default, res.Tuning.Attention == nil)

	// The device computes correctly with whatever won.
	const m, n, k = 67, 45, 33
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	at, err := d.Upload(a, m, k)
	require.NoError(t, err)
	bt, err := d.Upload(b, k, n)
	require.NoError(t, err)
	ct, err := d.Alloc(m, n)
	require.NoError(t, err)
	require.NoError(t, d.Gemm(backend.MatOf(ct), backend.MatOf(at), backend.MatOf(bt), backend.GemmOptions{}))
	got := make([]float32, m*n)
	require.NoError(t, d.Download(got, ct))
	for i := range m {
		for j := range n {
			var want float64
			for p := range k {
				want += float64(a[i*k+p]) * float64(b[p*n+j])
			}
			require.InDelta(t, want, got[i*n+j], 1e-4, "C[%d,%d]", i, j)
		}
	}

	// With the budget spent only the defaults are measured (the device has
	// built them above).
	res, err = gpu.Tune(d, gpu.TuneOptions{
		Budget: time.Nanosecond, GemmSize: 64, Seq: 64, Reps: 1,
		Gemm: []gpu.GemmTiles{{TM: 32, TN: 32, TK: 8, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}},
	})
	require.NoError(t, err)
	require.Equal(t, gpu.Tuning{}, res.Tuning)
	require.Equal(t, def, d.Tuning())
	require.True(t, res.Gemm.Default)
	require.True(t, res.Attention.Default)
	skipped := 0
	for _, c := range res.Candidates {
		if c.Skipped {
			skipped++
			require.False(t, c.Default)
		}
	}
	require.Equal(t, len(res.Candidates)-2, skipped)
}

func TestSetTuningRejectsWhatTheDeviceCannotHold(t *testing.T) {
	d := gputest.Device(t)
	info := d.Info()
	before := d.Tuning()
	tooBig := gpu.GemmTiles{TM: 128, TN: 128, TK: int(info.LocalMem / 4), WPTM: 8, WPTN: 8, VWN: 4, LVW: 4}
	err := d.SetTuning(gpu.Tuning{Gemm: &tooBig})
	require.ErrorContains(t, err, "local memory")
	ragged := gpu.GemmTiles{TM: 100, TN: 64, TK: 16, WPTM: 8, WPTN: 8, VWN: 4, LVW: 4}
	require.ErrorContains(t, d.SetTuning(gpu.Tuning{Gemm: &ragged}), "divide")
	odd := gpu.AttentionTiles{BM: 48, BN: 32, TR: 16, TC: 16}
	require.ErrorContains(t, d.SetTuning(gpu.Tuning{Attention: &odd}), "powers of two")
	require.Equal(t, before, d.Tuning(), "a rejected tuning changes nothing")

	// A valid override is reported, and Tuning{} restores the defaults.
	small := gpu.GemmTiles{TM: 32, TN: 32, TK: 8, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}
	require.NoError(t, d.SetTuning(gpu.Tuning{Gemm: &small}))
	require.Equal(t, small, *d.Tuning().Gemm)
	require.Equal(t, before.Attention, d.Tuning().Attention)
	require.NoError(t, d.SetTuning(gpu.Tuning{}))
	require.Equal(t, gpu.DefaultTuning(info), d.Tuning())
}

func TestTuningValidate(t *testing.T) {
	small := gpu.DeviceInfo{Name: "tiny", Type: "gpu", LocalMem: 32 << 10, MaxWorkGroupSize: 256, MaxWorkItemSizes: []int{256, 256, 64}}
	for _, c := range []struct {
		t    gpu.Tuning
		want string // "" = valid
	}{
		{gpu.Tuning{}, ""},
		{gpu.DefaultTuning(small), ""},
		{gpu.Tuning{Gemm: &gpu.GemmTiles{TM: 64, TN: 64, TK: 16, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}}, ""},
		{gpu.Tuning{Gemm: &gpu.GemmTiles{TM: 128, TN: 128, TK: 32, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}}, "1024 work-items, tiny allows 256"},
		{gpu.Tuning{Gemm: &gpu.GemmTiles{TM: 128, TN: 128, TK: 32, WPTM: 8, WPTN: 8, VWN: 4, LVW: 4}}, "local memory"},
		{gpu.Tuning{Gemm: &gpu.GemmTiles{TM: 64, TN: 64, TK: 16, WPTM: 4, WPTN: 4, VWN: 3, LVW: 4}}, "divide"},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{BM: 32, BN: 32, TR: 8, TC: 16, LPad: 1}}, ""},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{BM: 64, BN: 64, TR: 16, TC: 16, LPad: 1}}, "local memory at head dim 64"},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{BM: 32, BN: 32, TR: 32, TC: 16}}, "512 work-items"},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{BM: 8, BN: 32, TR: 16, TC: 16}}, "BM >= TR"},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{BM: 32, BN: 32, TR: 8, TC: 16, LPad: 2}}, "LPad"},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{CPU: true, RB: 8, NW: 4, KB: 32}}, ""},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{CPU: true, RB: 8, NW: 4, KB: 128}}, "local memory"},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{CPU: true, RB: 8, NW: 4, KB: 8}}, "KB at least 16"},
		{gpu.Tuning{Attention: &gpu.AttentionTiles{CPU: true, RB: 6, NW: 4, KB: 32}}, "powers of two"},
	} {
		err := c.t.Validate(small)
		if c.want == "" {
			require.NoError(t, err, "%+v", c.t)
			continue
		}
		require.Error(t, err, "%+v", c.t)
		require.True(t, strings.Contains(err.Error(), c.want), "%v: want %q", err, c.want)
	}

	// The defaults are reported as they fit: flash_cpu's 128-key tile needs
	// 32 KB + 8 bytes at head dim 64, so a 32 KB CPU device runs 64 keys.
	cpu := gpu.DeviceInfo{Name: "cpu", Type: "cpu", LocalMem: 32 << 10, MaxWorkGroupSize: 8192}
	def := gpu.DefaultTuning(cpu)
	require.NoError(t, def.Validate(cpu))
	require.Equal(t, 64, def.Attention.KB)
}

// TestDefaultTuningTable pins the table of shipped defaults in the Tuning docs.
func TestDefaultTuningTable(t *testing.T) {
	for _, c := range []struct {
		info            gpu.DeviceInfo
		gemm, attention string
	}{
		{gpu.DeviceInfo{Type: "cpu", LocalMem: 1 << 20, MaxWorkGroupSize: 4096},
			"128x128x64 micro 8x32 vec 16/16 unroll 2", "flash_cpu rows 8x4 keys 128"},
		{gpu.DeviceInfo{Type: "gpu", Vendor: "NVIDIA Corporation", LocalMem: 48 << 10, MaxWorkGroupSize: 1024},
			"128x128x16 micro 8x4 vec 4/4 unroll 0", "flash rows 64 keys 32 items 16x16 pad 1"},
		{gpu.DeviceInfo{Type: "gpu", Vendor: "Advanced Micro Devices, Inc.", LocalMem: 64 << 10, MaxWorkGroupSize: 256},
			"64x64x16 micro 4x4 vec 4/4 unroll 0", "flash rows 64 keys 32 items 16x16 pad 1"},
		{gpu.DeviceInfo{Type: "gpu", Vendor: "Intel(R) Corporation", LocalMem: 64 << 10, MaxWorkGroupSize: 512},
			"64x64x16 micro 4x4 vec 4/4 unroll 0", "flash rows 32 keys 32 items 8x16 pad 1"},
	} {
		def := gpu.DefaultTuning(c.info)
		require.Equal(t, c.gemm, def.Gemm.String(), c.info.Vendor)
		require.Equal(t, c.attention, def.Attention.String(), c.info.Vendor)
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*r.Float32() - 1
	}
	return x
}
