package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const goldenDir = "../../testdata/golden"

func TestGoldenCPU(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.safetensors"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	jsonPath := filepath.Join(t.TempDir(), "golden.json")
	var stdout, stderr bytes.Buffer
	status := run(append([]string{"golden", "--device", "cpu", "--json", jsonPath}, files...), &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 0, status, out+stderr.String())
	require.Contains(t, out, "CASE")
	require.Regexp(t, `(?m)^sdpa_basic\s+sdpa\s+out\s+\S+\s+\S+\s+PASS$`, out)
	require.Regexp(t, `(?m)^encoder_stack3_finalnorm\s+encoder\s+out \(unfused\)\s+\S+\s+\S+\s+PASS$`, out)
	require.NotContains(t, out, "FAIL")
	require.Regexp(t, `(?m)^\d+ passed, 0 failed$`, out)

	var r goldenReport
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &r))
	require.Equal(t, "cpu", r.Device)
	require.Zero(t, r.Failed)
	require.Equal(t, len(r.Results), r.Passed)
	require.Equal(t, r.Passed, strings.Count(out, "PASS"))
	cases := map[string]bool{}
	for _, row := range r.Results {
		cases[row.Case] = true
		require.NotNil(t, row.MaxAbs, row.Case)
		require.LessOrEqual(t, *row.MaxAbs, *row.Limit, row.Case)
	}
	require.Len(t, cases, len(files))
}

// TestGoldenBadFiles: a missing, a non-safetensors and a case file with a
// corrupted output are each FAIL lines, the good file still runs, and the
// status is 1.
func TestGoldenBadFiles(t *testing.T) {
	dir := t.TempDir()
	notSafetensors := filepath.Join(dir, "notes.safetensors")
	require.NoError(t, os.WriteFile(notSafetensors, []byte("hello"), 0o644))
	jsonPath := filepath.Join(dir, "golden.json")
	var stdout, stderr bytes.Buffer
	status := run([]string{"golden", "--device", "cpu", "--json", jsonPath,
		filepath.Join(dir, "missing.safetensors"), notSafetensors, filepath.Join(goldenDir, "sdpa_seq1.safetensors")}, &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 1, status, out+stderr.String())
	require.Empty(t, stderr.String())
	require.Regexp(t, `(?m)^missing\s+-\s+-\s+-\s+-\s+FAIL .*no such file`, out)
	require.Regexp(t, `(?m)^notes\s+-\s+-\s+-\s+-\s+FAIL .*malformed`, out)
	require.Regexp(t, `(?m)^sdpa_seq1\s+sdpa\s+out\s+\S+\s+\S+\s+PASS$`, out)
	require.Regexp(t, `(?m)^3 passed, 2 failed$`, out)
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var r goldenReport
	require.NoError(t, json.Unmarshal(data, &r))
	require.Equal(t, 2, r.Failed)
	require.Nil(t, r.Results[0].MaxAbs)
}

func TestGoldenUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"golden", "--device", "cpu"}, &stdout, &stderr))
	require.Regexp(t, regexp.MustCompile(`no case files`), stderr.String())
	require.Contains(t, stderr.String(), "usage: gpubench golden")
}
