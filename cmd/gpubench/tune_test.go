package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
)

func TestTuneNeedsOpenCL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	status := run([]string{"tune", "--device", "cpu", "--cache", filepath.Join(t.TempDir(), "t.json")}, &stdout, &stderr)
	require.Equal(t, 1, status)
	require.Equal(t, "gpubench tune: tune needs an OpenCL device, not the cpu backend (try --device opencl)\n", stderr.String())

	stderr.Reset()
	status = run([]string{"tune", "--device", "opencl:no-such-device-xyz"}, &stdout, &stderr)
	require.Equal(t, 1, status)
	require.Regexp(t, `^gpubench tune: .*no-such-device-xyz.*\n$`, stderr.String())
}

func TestTuneBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--budget", "soon"},
		{"--budget", "0s"},
		{"--size", "0"},
		{"--nope"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		status := run(append([]string{"tune"}, args...), &stdout, &stderr)
		require.Equal(t, 2, status, "%v: %s", args, stderr.String())
		require.Contains(t, stderr.String(), "usage: gpubench tune", args)
	}
}

// TestTuneSavesWinners tunes with a spent budget and tiny shapes (the defaults
// only), then checks the report and the cache, and that a file which is not a
// cache is refused and left alone.
func TestTuneSavesWinners(t *testing.T) {
	info := gputest.Device(t).Info()
	spec := "opencl:" + strconv.Itoa(info.Index)
	path := filepath.Join(t.TempDir(), "cache", "tuning.json")
	var stdout, stderr bytes.Buffer
	status := run([]string{"tune", "--device", spec, "--budget", "1ns", "--size", "64", "--seq", "64", "--cache", path}, &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 0, status, out+stderr.String())
	require.Contains(t, out, "gemm 64x64x64:\n")
	require.Contains(t, out, "attention 1x8x64x64:\n")
	require.Regexp(t, `(?m)^  \S.* \(default\)\s+\d+\.\d{3} ms\s+\d+\.\d GFLOP/s$`, out)
	require.Regexp(t, `(?m)^winners:\n  gemm .*\(the default\)\n  attention .*\(the default\)$`, out)
	require.Contains(t, out, "saved to "+path)
	require.Contains(t, out, "not this file: set CLATTN_TUNING_CACHE="+path+" to use these tiles")

	c, err := gpu.LoadTuningCache(path)
	require.NoError(t, err)
	got, ok := c.Lookup(info)
	require.True(t, ok)
	require.Equal(t, gpu.Tuning{}, got, "default winners leave the shipped tiles")

	// Tuning again replaces the cache and keeps its mode (it used to become 0600).
	require.NoError(t, os.Chmod(path, 0o644))
	stdout.Reset()
	stderr.Reset()
	status = run([]string{"tune", "--device", spec, "--budget", "1ns", "--size", "64", "--seq", "64", "--cache", path}, &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	bad := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(bad, []byte("my notes"), 0o644))
	stdout.Reset()
	stderr.Reset()
	status = run([]string{"tune", "--device", spec, "--budget", "1ns", "--size", "64", "--seq", "64", "--cache", bad}, &stdout, &stderr)
	require.Equal(t, 1, status)
	require.Contains(t, stderr.String(), "remove it or give another --cache")
	data, err := os.ReadFile(bad)
	require.NoError(t, err)
	require.Equal(t, "my notes", string(data))
}

// TestTuneCacheUse: the closing line says clattn.Open uses the tiles only where it
// reads that file.
func TestTuneCacheUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuning.json")
	t.Setenv(gpu.TuningCacheEnv, path)
	require.Equal(t, "clattn.Open and gpubench use these tiles on this device", cacheUse(path))
	other := filepath.Join(t.TempDir(), "other.json")
	require.Equal(t, "clattn.Open reads "+path+", not this file: set CLATTN_TUNING_CACHE="+other+" to use these tiles", cacheUse(other))
	t.Setenv(gpu.TuningCacheEnv, "off")
	require.Equal(t, "clattn.Open reads no cache while CLATTN_TUNING_CACHE=off: set CLATTN_TUNING_CACHE="+path+" to use these tiles", cacheUse(path))
}

// TestPrintWinnersRetimed: where a winner beat its default, both were timed
// again, and the rates differ from the list: the header says so.
func TestPrintWinnersRetimed(t *testing.T) {
	ms := time.Millisecond
	res := gpu.TuneResult{
		Gemm:      gpu.TuneCandidate{Kernel: "gemm", Tiles: "big", Time: 10 * ms, GFLOPs: 52},
		Attention: gpu.TuneCandidate{Kernel: "attention", Tiles: "att", Default: true, Time: 3 * ms, GFLOPs: 30},
		Candidates: []gpu.TuneCandidate{
			{Kernel: "gemm", Tiles: "def", Default: true, Time: 11 * ms, GFLOPs: 49.2},
			{Kernel: "gemm", Tiles: "big", Time: 10 * ms, GFLOPs: 52},
			{Kernel: "attention", Tiles: "att", Default: true, Time: 3 * ms, GFLOPs: 30},
			{Kernel: "attention", Tiles: "other", Skipped: true},
		},
	}
	var out bytes.Buffer
	printWinners(&out, res)
	s := out.String()
	require.Contains(t, s, "winners (each re-timed alternately with its default, best run kept; the rates above are the first timing):\n")
	require.Regexp(t, `(?m)^  gemm +big +52\.0 GFLOP/s  \(default 49\.2 GFLOP/s, 1\.10x\)$`, s)
	require.Regexp(t, `(?m)^  attention +att +30\.0 GFLOP/s  \(the default\)$`, s)
	require.Contains(t, s, "1 candidates not tried")
}

// TestTuneWarnsAboutBadCacheEntry: a cached entry whose tile sizes overflow
// (they passed validation once) leaves the device on its shipped tiles, tune
// warns about it and replaces the entry.
func TestTuneWarnsAboutBadCacheEntry(t *testing.T) {
	info := gputest.Device(t).Info()
	spec := "opencl:" + strconv.Itoa(info.Index)
	path := filepath.Join(t.TempDir(), "tuning.json")
	var c gpu.TuningCache
	c.Store(info, gpu.Tuning{Gemm: &gpu.GemmTiles{TM: 64, TN: 64, TK: 1 << 61, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}})
	require.NoError(t, gpu.SaveTuningCache(path, c))
	t.Setenv(gpu.TuningCacheEnv, path)
	var stdout, stderr bytes.Buffer
	status := run([]string{"tune", "--device", spec, "--budget", "1ns", "--size", "64", "--seq", "64", "--cache", path}, &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	require.Regexp(t, `^gpubench tune: warning: .*out of range.*using the shipped tiles\n$`, stderr.String())
	saved, err := gpu.LoadTuningCache(path)
	require.NoError(t, err)
	got, ok := saved.Lookup(info)
	require.True(t, ok)
	require.NoError(t, got.Validate(info), "the bad entry is replaced")
}
