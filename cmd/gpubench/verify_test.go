package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/backend/backendtest"
)

func TestVerifyQuickCPU(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "verify.json")
	var stdout, stderr bytes.Buffer
	status := run([]string{"verify", "--device", "cpu", "--quick", "--json", jsonPath}, &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	out := stdout.String()
	require.Contains(t, out, "OP")
	require.Contains(t, out, "MAX ABS")
	require.Regexp(t, `(?m)^Attention\s+b=1,h=1,sq=1,sk=1,d=1\s+\S+\s+\S+\s+\S+\s+PASS$`, out)
	require.NotContains(t, out, "FAIL")
	require.Regexp(t, `(?m)^\d+ passed, 0 failed`, out)

	var r verifyReport
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &r))
	require.Equal(t, "cpu", r.Device)
	require.Equal(t, "quick", r.Suite)
	require.Equal(t, len(r.Results), r.Passed)
	require.Zero(t, r.Failed)
	require.Equal(t, r.Passed, strings.Count(out, "PASS"))
}

func TestVerifyBadFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"verify", "--bogus"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: gpubench verify")
	require.Equal(t, 2, run([]string{"verify", "--device", "cpu", "extra"}, &stdout, &stderr))
}

func TestPrintVerifyFailures(t *testing.T) {
	r := verifyReport{Device: "test", Suite: "quick", Passed: 2, Failed: 2, Results: []backendtest.Result{
		{Name: "Gemm/b=1,m=1,n=1,k=1", Op: "Gemm", Checks: 2, MaxAbs: 1e-8, MaxRel: 2e-8, Limit: 3e-8, Passed: true},
		{Name: "Attention/b=1,h=1", Op: "Attention", Checks: 3, MaxAbs: 1e-3, MaxRel: 0.5, Limit: 2e-6,
			Messages: []string{"Attention: n=1 max-abs=0.001", "Attention: row 0 is not 0"}},
		{Name: "Errors", Op: "Errors", Messages: []string{"panic: boom"}},
		{Name: "Softmax/rows=1", Op: "Softmax", Checks: 1, MaxAbs: 0, Passed: true},
	}}
	var out bytes.Buffer
	printVerify(&out, r)
	s := out.String()
	// The header and the legend say which error the limit bounds: the max-abs one next to it.
	require.Regexp(t, `(?m)^OP\s+SHAPE\s+MAX ABS\s+ABS LIMIT\s+MAX REL\s+RESULT$`, s)
	require.Contains(t, s, "ABS LIMIT bounds MAX ABS")
	require.Contains(t, s, `"cap": no naive`)
	require.Regexp(t, `(?m)^Gemm\s+b=1,m=1,n=1,k=1\s+1e-08\s+3e-08\s+2e-08\s+PASS$`, s)
	require.Regexp(t, `(?m)^Softmax\s+rows=1\s+0\s+cap\s+0\s+PASS$`, s)
	require.Regexp(t, `(?m)^Attention\s+b=1,h=1\s+0\.001\s+2e-06\s+0\.5\s+FAIL Attention: n=1 max-abs=0\.001 \(1 more below\)$`, s)
	require.Regexp(t, `(?m)^Errors\s+-\s+-\s+-\s+-\s+FAIL panic: boom$`, s)
	require.Contains(t, s, "Attention/b=1,h=1:\n    Attention: row 0 is not 0\n")
	require.Regexp(t, `(?m)^2 passed, 2 failed`, s)
}
