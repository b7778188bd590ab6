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

// TestTuningCacheRefusesForeignFile checks that SaveTuningCache leaves a file
// that is not a tuning cache as it was (content and mode), and that replacing
// a cache keeps the cache file's mode.
func TestTuningCacheRefusesForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tuning.json")
	const user = `{"important": "user data"}`
	require.NoError(t, os.WriteFile(path, []byte(user), 0o644))
	_, err := gpu.LoadTuningCache(path)
	require.ErrorContains(t, err, "not a tuning cache")
	require.ErrorContains(t, gpu.CheckTuningCachePath(path), "not a tuning cache")
	c := gpu.TuningCache{}
	c.Store(gpu.DeviceInfo{Name: "x"}, gpu.Tuning{})
	require.ErrorContains(t, gpu.SaveTuningCache(path, c), "not a tuning cache")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, user, string(data))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	require.NoError(t, os.Remove(path))
	require.NoError(t, gpu.SaveTuningCache(path, c))
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, gpu.CheckTuningCachePath(path))
	require.NoError(t, gpu.SaveTuningCache(path, c), "a cache replaces a cache")
	st, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "the cache keeps its mode")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")
}

// TestTuningValidateHugeTiles checks that tile sizes whose products overflow
// an int are rejected, not wrapped into passing sizes.
func TestTuningValidateHugeTiles(t *testing.T) {
	info := gpu.DeviceInfo{Name: "Some CPU", Type: "cpu", LocalMem: 1 << 20, MaxWorkGroupSize: 4096}
	for name, tn := range map[string]gpu.Tuning{
		"kb 2^56": {Attention: &gpu.AttentionTiles{CPU: true, RB: 8, NW: 4, KB: 1 << 56}},
		"tk 2^61": {Gemm: &gpu.GemmTiles{TM: 64, TN: 64, TK: 1 << 61, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}},
		"bn 2^62": {Attention: &gpu.AttentionTiles{BM: 32, BN: 1 << 62, TR: 8, TC: 16}},
		"tm -64":  {Gemm: &gpu.GemmTiles{TM: -64, TN: 64, TK: 16, WPTM: -4, WPTN: 4, VWN: 4, LVW: 4}},
	} {
		require.ErrorContains(t, tn.Validate(info), "out of range", name)
	}
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
	require.ErrorContains(t, b.TuningCacheError(), "not a tuning cache")
	require.NoError(t, b.Close())

	// An entry with tiles whose sizes overflow: the shipped tiles and a warning.
	require.NoError(t, os.Remove(path))
	huge := gpu.DefaultTuning(info)
	huge.Attention = &gpu.AttentionTiles{CPU: true, RB: 8, NW: 4, KB: 1 << 56}
	huge.Gemm = &gpu.GemmTiles{TM: 64, TN: 64, TK: 1 << 61, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}
	c.Store(info, huge)
	require.NoError(t, gpu.SaveTuningCache(path, c))
	b, err = gpu.Open(sel)
	require.NoError(t, err, "a bad entry does not stop Open")
	require.Equal(t, gpu.DefaultTuning(info), b.Tuning())
	require.ErrorContains(t, b.TuningCacheError(), "out of range")
	require.NoError(t, b.Close())
	c.Store(info, tuned)

	t.Setenv(gpu.TuningCacheEnv, "off")
	require.NoError(t, gpu.SaveTuningCache(path, c))
	b, err = gpu.Open(sel)
	require.NoError(t, err)
	require.Equal(t, gpu.DefaultTuning(info), b.Tuning(), "off reads no cache")
	require.NoError(t, b.Close())
}
