package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMainJobCPU(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "main.json")
	var stdout, stderr bytes.Buffer
	status := run([]string{"--device", "cpu", "--json", jsonPath}, &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	out := stdout.String()
	require.Contains(t, out, "SPEC") // the devices table
	require.Contains(t, out, "smoke:  skipped (not OpenCL)")
	require.Regexp(t, `(?m)^\d+ passed, 0 failed`, out)
	require.Contains(t, out, "median ms") // the bench table
	require.Regexp(t, `(?m)^summary\n  device: +cpu\n`, out)
	require.Regexp(t, `(?m)^  verify: +(\d+)/\d+ passed`, out)
	require.Regexp(t, `(?m)^  attention: +[0-9.]+ GFLOP/s`, out)
	require.Regexp(t, `(?m)^  gemm: +[0-9.]+ GFLOP/s`, out)
	require.Regexp(t, `(?m)^  total time: +[0-9.]+ s$`, out)

	var r struct {
		Devices []deviceRow     `json:"devices"`
		Verify  verifyReport    `json:"verify"`
		Bench   json.RawMessage `json:"bench"`
	}
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &r))
	require.Equal(t, "cpu", r.Devices[len(r.Devices)-1].Spec)
	require.Positive(t, r.Verify.Passed)
	require.Zero(t, r.Verify.Failed)
	require.Contains(t, string(r.Bench), `"op": "attention"`)
}

func TestMainJobBadFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"--bogus"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: gpubench main")
}
