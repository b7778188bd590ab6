package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/internal/soak"
)

func TestSoakCPU(t *testing.T) {
	var stdout, stderr bytes.Buffer
	status := run([]string{"soak", "--device", "cpu", "--duration", "1s", "--seed", "4"}, &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 0, status, out+stderr.String())
	require.Contains(t, out, "soak: cpu against cpu for 1s, seed 4")
	require.Regexp(t, `(?m)^OP\s+RUNS\s+MISMATCHES\s+MAX ABS\s+MAX / CAP$`, out)
	require.Regexp(t, `(?m)^attention\s+[1-9]\d*\s+0\s+0\s+0$`, out)
	require.Regexp(t, `(?m)^\d+ ops in \d+\.\d s, 0 mismatches`, out)
}

func TestPrintSoakMismatches(t *testing.T) {
	var out bytes.Buffer
	printSoak(&out, soak.Result{Reference: "cpu", Runs: 9, Mismatches: 3, Elapsed: 2 * time.Second,
		Ops:      []soak.OpStats{{Op: "gemm", Runs: 9, Mismatches: 3, MaxAbs: 0.5, MaxRatio: 1250}},
		Failures: []string{"case 0 (seed 1): gemm m=1: n=1 max-abs=0.5 over=1\n(second line)"}})
	require.Regexp(t, `(?m)^gemm\s+9\s+3\s+0\.5\s+1\.25e\+03$`, out.String())
	require.Contains(t, out.String(), "MISMATCH case 0 (seed 1): gemm m=1: n=1 max-abs=0.5 over=1; (second line)\n")
	require.Contains(t, out.String(), "... and 2 more mismatches\n")
	require.Contains(t, out.String(), "9 ops in 2.0 s, 3 mismatches")
}
