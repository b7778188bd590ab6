package main

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/cpuref"
)

func TestExplainScaling(t *testing.T) {
	plotPath := filepath.Join(t.TempDir(), "scaling.png")
	var stdout, stderr bytes.Buffer
	status := run([]string{"explain", "scaling", "--device", "cpu", "--seq", "16", "--heads", "2", "--plot", plotPath}, &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	require.Regexp(t, `(?m)^\s+4\s+\d`, stdout.String())
	require.Regexp(t, `(?m)^\s+1024\s+\d`, stdout.String())
	requirePNG(t, plotPath, 1100, 460)

	for _, args := range [][]string{{}, {"gravity"}, {"scaling", "--seq", "1"}, {"scaling", "extra"}} {
		require.Equal(t, 2, run(append([]string{"explain"}, args...), &stdout, &stderr), "%q", args)
	}
}

func TestMeasureScaling(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	const seq = 64
	rows, err := measureScaling(be, 4, seq, 1)
	require.NoError(t, err)
	require.Len(t, rows, len(scalingDims))
	first, last := rows[0], rows[len(rows)-1]
	for i, r := range rows {
		// Scaled: unit spread, entropy and largest weight the same at every d_k.
		require.InDelta(t, 1, r.scoreStd[0], 0.05, "d_k %d", r.dk)
		require.InDelta(t, first.entropy[0], r.entropy[0], 0.05, "d_k %d", r.dk)
		require.InDelta(t, first.top[0], r.top[0], 0.02, "d_k %d", r.dk)
		// Unscaled: spread sqrt(d_k), softmax ever sharper.
		require.InDelta(t, 1, r.scoreStd[1]/math.Sqrt(float64(r.dk)), 0.05, "d_k %d", r.dk)
		if i > 0 {
			require.Less(t, r.entropy[1], rows[i-1].entropy[1])
			require.Greater(t, r.top[1], rows[i-1].top[1])
		}
	}
	require.Less(t, last.entropy[1], 0.3)
	require.Greater(t, last.top[1], 0.9)
	require.Less(t, first.entropy[0], math.Log(seq))
}
