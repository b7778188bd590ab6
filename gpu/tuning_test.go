package gpu_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
)

func TestTuningCacheRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tuning.json")
	c, err := gpu.LoadTuningCache(path)
	require.NoError(t, err, "a missing cache is empty")
	require.Empty(t, c.Devices)

	info := gpu.DeviceInfo{Name: "Some GPU", DriverVersion: "1.2.3", Type: "gpu", LocalMem: 48 << 10, MaxWorkGroupSize: 1024}
	want := gpu.Tuning{
		Gemm:      &gpu.GemmTiles{TM: 64, TN: 64, TK: 32, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4},
		Attention: &gpu.AttentionTiles{BM: 32, BN: 64, TR: 8, TC: 16, LPad: 1},
	}
	c.Store(info, want)
	require.Contains(t, c.Devices, "Some GPU|1.2.3")
	require.NoError(t, gpu.SaveTuningCache(path, c))

	back, err := gpu.LoadTuningCache(path)
	require.NoError(t, err)
	got, ok := back.Lookup(info)
	require.True(t, ok)
	require.Equal(t, want, got)

	other := info
	other.DriverVersion = "1.2.4"
	_, ok = back.Lookup(other)
	require.False(t, ok, "another driver version has no entry")

	stale := back.Devices[gpu.TuningKey(info)]
	stale.Kernels = "other kernels"
	back.Devices[gpu.TuningKey(info)] = stale
	_, ok = back.Lookup(info)
	require.False(t, ok, "an entry tuned with other kernel sources does not apply")
}

func TestTuningCacheCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"devices": {"x": [`), 0o644))
	_, err := gpu.LoadTuningCache(path)
	require.ErrorContains(t, err, path)
}

func TestDefaultTuningCachePath(t *testing.T) {
	t.Setenv(gpu.TuningCacheEnv, "")
	p, err := gpu.DefaultTuningCachePath()
	if err == nil { // no user cache dir on some systems
		require.Equal(t, filepath.Join("clattn", "tuning.json"), filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p)))
	}
	t.Setenv(gpu.TuningCacheEnv, "/some/where.json")
	p, err = gpu.DefaultTuningCachePath()
	require.NoError(t, err)
	require.Equal(t, "/some/where.json", p)
	t.Setenv(gpu.TuningCacheEnv, "off")
	p, err = gpu.DefaultTuningCachePath()
	require.NoError(t, err)
	require.Empty(t, p)
}

// TestOpenAppliesTuningCache checks that Open applies the cached entry of the
// device, and opens with the defaults when the cache is corrupt.
func TestOpenAppliesTuningCache(t *testing.T) {
	info := gputest.Device(t).Info() // skips without OpenCL
	sel := gpu.Selector{Index: info.Index}
	path := filepath.Join(t.TempDir(), "tuning.json")
	t.Setenv(gpu.TuningCacheEnv, path)

	tuned := gpu.DefaultTuning(info)
	g := gpu.GemmTiles{TM: 32, TN: 32, TK: 8, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}
	tuned.Gemm = &g
	var c gpu.TuningCache
	c.Store(info, tuned)
	require.NoError(t, gpu.SaveTuningCache(path, c))
	b, err := gpu.Open(sel)
	require.NoError(t, err)
	require.Equal(t, tuned, b.Tuning())
	require.NoError(t, b.Close())

	require.NoError(t, os.WriteFile(path, []byte("not json"), 0o644))
	b, err = gpu.Open(sel)
	require.NoError(t, err, "a corrupt cache does not stop Open")
	require.Equal(t, gpu.DefaultTuning(info), b.Tuning())
	require.NoError(t, b.Close())

	t.Setenv(gpu.TuningCacheEnv, "off")
	require.NoError(t, gpu.SaveTuningCache(path, c))
	b, err = gpu.Open(sel)
	require.NoError(t, err)
	require.Equal(t, gpu.DefaultTuning(info), b.Tuning(), "off reads no cache")
	require.NoError(t, b.Close())
}
