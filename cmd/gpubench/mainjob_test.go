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
	require.Regexp(t, `(?m)^SPEC +DEVICE +CHECK +WORST ERROR / LIMIT +VS CPU +ATTENTION +ENCODER LAYER +GEMM$`, summary)
	figures := ` +[0-9.]+ GFLOP/s +[0-9.]+ ms +[0-9.]+ GFLOP/s$`
	for _, spec := range infos { // cross-checked against the cpu backend
		require.Regexp(t, `(?m)^`+regexp.QuoteMeta(spec)+`( \*)? .* PASS +[0-9.e+-]+ / [0-9.e+-]+ +[0-9.e+-]+ of cap`+figures, summary)
		require.Contains(t, details, fmt.Sprintf("cross-check: %d random cases against cpu, seed 1", crossCheckCases))
	}
	require.Regexp(t, `(?m)^cpu( \*)? +cpuref \(all cores\) +PASS +[0-9.e+-]+ / [0-9.e+-]+ +-`+figures, summary)
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
			require.NotNil(t, c.CrossCheck, c.Spec)
			require.Equal(t, crossCheckCases, c.CrossCheck.Cases, c.Spec)
			require.LessOrEqual(t, c.CrossCheck.MaxRatio, 1.0, c.Spec)
		} else {
			require.Nil(t, c.CrossCheck, "the cpu backend is the reference")
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
			{Spec: "opencl:0", Device: "opencl:0 Some GPU", Smoke: "ok", Verify: verifyReport{Passed: 1, Failed: 1, Results: []backendtest.Result{good, bad}},
				CrossCheck: &crossCheck{Cases: 70, Mismatches: 2, MaxRatio: 30}},
			{Spec: "opencl:1", Device: "opencl:1 Other GPU", Smoke: "ok", Verify: verifyReport{Passed: 1, Results: []backendtest.Result{good}},
				CrossCheck: &crossCheck{Cases: 70, Mismatches: 1, MaxRatio: 2}},
			{Spec: "cpu", Device: "cpu", Verify: verifyReport{Passed: 1, Results: []backendtest.Result{good}}},
		},
	}
	r.Devices = append(r.Devices, deviceRow{Index: 1, Spec: "opencl:1", Name: "Other GPU"})
	var out bytes.Buffer
	printSummary(&out, r, nil)
	s := out.String()
	require.Contains(t, s, "clattn on this machine: 1 of 3 devices passed")
	require.Regexp(t, `(?m)^opencl:0 \* +Some GPU +FAIL \(vs cpu, 1 of 2 checks\) +0\.003 / 2e-06 +2 of 70 differ$`, s)
	require.Regexp(t, `(?m)^opencl:1 +Other GPU +FAIL \(vs cpu\) +1e-07 / 1e-06 +1 of 70 differ$`, s)
	require.Regexp(t, `(?m)^cpu +cpuref \(all cores\) +PASS +1e-07 / 1e-06 +-$`, s)
	require.NotContains(t, s, "auto selects") // a GPU was selected

	// The cpu backend selected by --device cpu: no hint about auto.
	r.Selected, r.Checks[0], r.Checks[2] = "cpu", r.Checks[2], r.Checks[0]
	out.Reset()
	printSummary(&out, r, nil)
	require.NotContains(t, out.String(), "auto selects")
	r.autoChoseCPU = true
	out.Reset()
	printSummary(&out, r, nil)
	require.Contains(t, out.String(), "auto selects OpenCL GPUs only; to select opencl:0 (Some Platform):\n  --device opencl:0 or CLATTN_DEVICE=opencl:0.\n")
	require.NotContains(t, s, "ATTENTION") // nothing was timed: no figure columns
}

func TestMainJobBadFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"--bogus"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: gpubench main")
}
