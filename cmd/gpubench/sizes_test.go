package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/gpu/gputest"
)

// TestSizesCheckedBeforeAllocating gives bench, explain and tune sizes whose
// buffers no machine holds (or whose element count overflows an int): each is
// refused in one line with exit 1 before anything is allocated, where Go used
// to die of "out of memory" or "makeslice: len out of range".
func TestSizesCheckedBeforeAllocating(t *testing.T) {
	refused := func(t *testing.T, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		status := run(args, &stdout, &stderr)
		require.Equal(t, 1, status, "%v: %s", args, stderr.String())
		require.Contains(t, stderr.String(), "needs more than", args)
		require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: one line: %s", args, stderr.String())
		requireNoTrace(t, stderr.String())
	}
	refused(t, "bench", "--device", "cpu", "--op", "attention", "--seq", "100000000")
	refused(t, "bench", "--device", "cpu", "--op", "softmax", "--seq", "100000000")
	refused(t, "bench", "--device", "cpu", "--op", "encoder", "--seq", "100000000")
	refused(t, "explain", "scaling", "--device", "cpu", "--seq", "1000000000")
	refused(t, "explain", "scaling", "--device", "cpu", "--heads", "1000000000")
	t.Run("opencl", func(t *testing.T) {
		spec := "opencl:" + strconv.Itoa(gputest.Device(t).Info().Index)
		refused(t, "bench", "--device", spec, "--op", "layernorm", "--seq", "100000000")
		refused(t, "tune", "--device", spec, "--cache", t.TempDir()+"/t.json", "--seq", "100000000")
		refused(t, "tune", "--device", spec, "--cache", t.TempDir()+"/t.json", "--size", "100000000")
	})
}

// TestNegativeCounts: counts below their minimum are usage errors (exit 2),
// not silently the default.
func TestNegativeCounts(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--reps", "-3"},
		{"bench", "--reps", "0"},
		{"bench", "--warmup", "-1"},
		{"bench", "--op", "attention", "--seq-kv", "-5"},
		{"bench", "--op", "gemm", "--heads", "-2"},
		{"bench", "--op", "gemm", "--batch", "0"},
	} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 2, run(args, &stdout, &stderr), "%v: %s", args, stderr.String())
		require.Contains(t, stderr.String(), "want >=", args)
	}
}

// TestNonRegularInputs gives /dev/zero as weights or inputs: refused at once
// (it used to be read until the process was killed).
func TestNonRegularInputs(t *testing.T) {
	dir := t.TempDir()
	weights, input, _ := splitGolden(t, dir, "encoder_postln_relu")
	for _, args := range [][]string{
		{"run", "--device", "cpu", "--layer", "encoder", "--heads", "2", "--weights", "/dev/zero", "--input", input, "--output", dir + "/o.safetensors"},
		{"run", "--device", "cpu", "--layer", "encoder", "--heads", "2", "--weights", weights, "--input", "/dev/zero", "--output", dir + "/o.safetensors"},
		{"attn-map", "--device", "cpu", "--layer", "encoder", "--heads", "2", "--weights", "/dev/zero", "--input", input, "--out", dir + "/maps"},
		{"golden", "--device", "cpu", "/dev/zero"},
	} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 1, run(args, &stdout, &stderr), "%v: %s", args, stderr.String())
		require.Contains(t, stdout.String()+stderr.String(), "not a regular file", args)
	}
}
