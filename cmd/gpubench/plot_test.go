package main

import (
	"bytes"
	"os"
	"path/filepath"
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
