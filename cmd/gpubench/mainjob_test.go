package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/stretchr/testify/require"
)

// TestMainJobChecksEveryDevice runs the main job as a new user does (no
// --device): on a machine whose only OpenCL device is PoCL, auto selects the
// cpu backend, and the OpenCL kernels must still run, each device checked
// against the oracle, timed and summarised in one row.
func TestMainJobChecksEveryDevice(t *testing.T) {
	t.Setenv("CLATTN_DEVICE", "")
	var infos []string
	for _, d := range gputest.Devices(t) { // fails without OpenCL where CLATTN_REQUIRE_OPENCL=1
		infos = append(infos, fmt.Sprintf("opencl:%d", d.Info().Index))
	}
	jsonPath := filepath.Join(t.TempDir(), "main.json")
	var stdout, stderr bytes.Buffer
	status := run([]string{"--verbose", "--json", jsonPath}, &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 0, status, "stdout:\n%s\nstderr:\n%s", out, stderr.String())

	// --verbose: the devices table, then every device's checks and timings, then the summary.
	require.Contains(t, out, "INDEX  SPEC")
	summaryAt := strings.Index(out, "clattn on this machine: ")
	require.Positive(t, summaryAt, out)
	details, summary := out[:summaryAt], out[summaryAt:]
	for _, spec := range append(infos, "cpu") {
		require.Contains(t, details, "== "+spec+": ")
		require.Contains(t, stderr.String(), "checking "+spec+" (")
	}
	require.Regexp(t, `(?m)^\d+ passed, 0 failed`, details)
	require.Contains(t, details, "median ms") // the bench table
	require.NotContains(t, summary, "median ms")

	devices := len(infos) + 1
	require.Contains(t, summary, fmt.Sprintf("clattn on this machine: %d of %d devices passed", devices, devices))
	require.Regexp(t, `(?m)^SPEC +DEVICE +CHECK +WORST ERROR / LIMIT +ATTENTION +ENCODER LAYER +GEMM$`, summary)
	figure := `[0-9.e+-]+ / [0-9.e+-]+ \(\w+\) +[0-9.]+ GFLOP/s +[0-9.]+ ms +[0-9.]+ GFLOP/s$`
	for _, spec := range append(infos, "cpu") {
		require.Regexp(t, `(?m)^`+regexp.QuoteMeta(spec)+`( \*)? .* PASS +`+figure, summary)
	}
	if len(infos) > 0 && strings.Contains(summary, "cpu * ") { // auto chose cpu: say how to choose OpenCL
		require.Contains(t, summary, "auto selects OpenCL GPUs only; to select opencl:0 (")
	}

	var r mainReport
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &r))
	require.Len(t, r.Checks, devices)
	require.Equal(t, r.Selected, r.Checks[0].Spec)
	for _, c := range r.Checks {
		require.True(t, c.passed(), "%+v", c)
		require.Positive(t, c.Verify.Passed, c.Spec)
		_, ok := headlineResult(c.Bench, bench.OpAttention)
		require.True(t, ok, c.Spec)
		if strings.HasPrefix(c.Spec, "opencl:") {
			require.Equal(t, "ok", c.Smoke, c.Spec)
		}
	}
}

// TestMainJobSummaryFailure draws the summary of a failed check: the row says
// FAIL with the number of failed checks and the worst error over its limit.
func TestMainJobSummaryFailure(t *testing.T) {
	good := backendtest.Result{Name: "Attention/x", Op: "Attention", Checks: 1, MaxAbs: 1e-7, Limit: 1e-6, Passed: true}
	bad := backendtest.Result{Name: "Softmax/x", Op: "Softmax", Checks: 1, MaxAbs: 3e-3, Limit: 2e-6, Messages: []string{"over"}}
	r := mainReport{
		Devices:  []deviceRow{{Index: 0, Spec: "opencl:0", Platform: "Some Platform", Name: "Some GPU"}, {Index: -1, Spec: "cpu", Name: "cpuref (all cores)"}},
		Selected: "opencl:0",
		Checks: []checkedRun{
			{Spec: "opencl:0", Device: "opencl:0 Some GPU", Smoke: "ok", Verify: verifyReport{Passed: 1, Failed: 1, Results: []backendtest.Result{good, bad}}},
			{Spec: "cpu", Device: "cpu", Verify: verifyReport{Passed: 1, Results: []backendtest.Result{good}}},
		},
	}
	var out bytes.Buffer
	printSummary(&out, r, nil)
	s := out.String()
	require.Contains(t, s, "clattn on this machine: 1 of 2 devices passed")
	require.Regexp(t, `(?m)^opencl:0 \* +Some GPU +FAIL \(1 of 2 checks\) +0\.003 / 2e-06 \(Softmax\)$`, s)
	require.Regexp(t, `(?m)^cpu +cpuref \(all cores\) +PASS +1e-07 / 1e-06 \(Attention\)$`, s)
	require.NotContains(t, s, "auto selects") // a GPU was selected
	require.NotContains(t, s, "ATTENTION")    // nothing was timed: no figure columns
}

func TestMainJobBadFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"--bogus"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: gpubench main")
}
