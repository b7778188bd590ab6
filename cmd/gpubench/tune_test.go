package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

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

	c, err := gpu.LoadTuningCache(path)
	require.NoError(t, err)
	got, ok := c.Lookup(info)
	require.True(t, ok)
	require.Equal(t, gpu.Tuning{}, got, "default winners leave the shipped tiles")

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
