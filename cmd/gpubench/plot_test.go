package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlotOverlaysReports(t *testing.T) {
	dir := t.TempDir()
	var reports []string
	for _, dev := range []string{"cpu", "cpu"} {
		path := filepath.Join(dir, dev+"-"+string(rune('a'+len(reports)))+".json")
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, run([]string{"bench", "--device", dev, "--op", "attention", "--seq", "32", "--heads", "2",
			"--head-dim", "8", "--reps", "1", "--quiet", "--json", path}, &stdout, &stderr), stderr.String())
		reports = append(reports, path)
	}
	png := filepath.Join(dir, "both.png")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(append([]string{"plot", "--out", png}, reports...), &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), "2 reports drawn")
	st, err := os.Stat(png)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))

	notReport := filepath.Join(dir, "x.json")
	require.NoError(t, os.WriteFile(notReport, []byte(`{"a":1}`), 0o644))
	stderr.Reset()
	require.Equal(t, 1, run([]string{"plot", "--out", png, notReport}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "not a gpubench bench --json report")
}

// TestPlotRefusesNonBenchReports gives plot a bench report with a negative
// sequence length, a negative rate, and a verify report: each refused by its
// content with one line, exit 1, and no picture written.
func TestPlotRefusesNonBenchReports(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"bench", "--device", "cpu", "--op", "softmax", "--seq", "16", "--heads", "1",
		"--head-dim", "8", "--reps", "1", "--quiet", "--json", good}, &stdout, &stderr), stderr.String())
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	verifyJSON := filepath.Join(dir, "verify.json")
	require.Equal(t, 0, run([]string{"verify", "--device", "cpu", "--quick", "--json", verifyJSON}, &stdout, &stderr), stderr.String())
	for name, content := range map[string][]byte{
		"negative seq":  bytes.Replace(data, []byte(`"seq": 16`), []byte(`"seq": -5`), 1),
		"negative rate": regexp.MustCompile(`"gflops": [^,]+`).ReplaceAll(data, []byte(`"gflops": -3`)),
		"verify":        nil,
	} {
		path := verifyJSON
		if content != nil {
			require.False(t, bytes.Equal(content, data), "%s: the report was not altered", name)
			path = filepath.Join(dir, "bad.json")
			require.NoError(t, os.WriteFile(path, content, 0o644))
		}
		out := filepath.Join(dir, "out.png")
		stderr.Reset()
		require.Equal(t, 1, run([]string{"plot", "--out", out, path}, &stdout, &stderr), name)
		require.Contains(t, stderr.String(), "not a gpubench bench --json report", name)
		require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%s: %s", name, stderr.String())
		requireNoTrace(t, stderr.String())
		_, err := os.Stat(out)
		require.ErrorIs(t, err, os.ErrNotExist, name)
	}
}
