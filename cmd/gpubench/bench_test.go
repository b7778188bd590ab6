package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/gpu/gputest"
)

// TestBenchCSVMatchesTable runs gpubench bench on the cpu backend (no device
// timer, no peak: "-" cells) and on an OpenCL device (both present) and checks
// that every CSV row says what its table row says: an empty cell for "-", never 0.
// Without a terminal, progress is one line per case on stderr.
func TestBenchCSVMatchesTable(t *testing.T) {
	quick, err := bench.Suite("quick")
	require.NoError(t, err)
	opencl := fmt.Sprintf("opencl:%d", gputest.Device(t).Info().Index)
	for _, tc := range []struct {
		args  []string
		cases int
	}{
		{[]string{"--device", "cpu"}, len(quick)}, // no --suite, no --op: the quick suite
		{[]string{"--device", opencl, "--op", "attention", "--seq", "33", "--heads", "2", "--head-dim", "16"}, 1},
	} {
		csvPath := filepath.Join(t.TempDir(), "bench.csv")
		var stdout, stderr bytes.Buffer
		args := append([]string{"bench", "--reps", "1", "--csv", csvPath}, tc.args...)
		require.Equal(t, 0, run(args, &stdout, &stderr), "%v: %s", args, stderr.String())
		require.Equal(t, tc.cases, strings.Count(stderr.String(), "\n"), "one progress line per case: %s", stderr.String())
		require.Regexp(t, fmt.Sprintf(`(?m)^bench 1/%d \S+$`, tc.cases), stderr.String())

		data, err := os.ReadFile(csvPath)
		require.NoError(t, err)
		rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		require.NoError(t, err)
		header := rows[0]
		require.Equal(t, []string{"device", "op", "shape", "median_ms", "min_ms", "max_ms", "device_ms", "gflops", "gbps", "peak_pct",
			"kv_bytes", "bandwidth_pct"}, header)
		rows = rows[1:]
		table := tableRows(t, stdout.String())
		require.Len(t, rows, tc.cases)
		require.Len(t, table, len(rows))
		for i, row := range rows {
			cell := table[i] // op shape median min max device GFLOP/s GB/s %peak
			require.Equal(t, row[1:3], cell[:2])
			// The table rounds to these decimals, the CSV to 6 significant digits:
			// they agree within half the table's last digit (plus the CSV's rounding).
			for j, decimals := range []int{3, 3, 3, 3, 1, 1, 1} {
				want := cell[2+j]
				if row[3+j] == "" {
					require.Equal(t, "-", want, "%s column %s", row[1], header[3+j])
					continue
				}
				v, err := strconv.ParseFloat(row[3+j], 64)
				require.NoError(t, err, row)
				require.NotZero(t, v, "%s column %s: 0 in the CSV", row[1], header[3+j])
				shown, err := strconv.ParseFloat(want, 64)
				require.NoError(t, err, "%s column %s: table cell %q", row[1], header[3+j], want)
				require.InDelta(t, shown, v, 0.5*math.Pow(10, -float64(decimals))+1e-5*math.Abs(v),
					"%s column %s: table %s, CSV %s", row[1], header[3+j], want, row[3+j])
			}
			if row[11] == "" { // bandwidth_pct, the table's "% bw"
				require.Equal(t, "-", cell[9], "%s: %% bw", row[1])
			}
		}
		if strings.HasPrefix(tc.args[1], "opencl") {
			require.NotEmpty(t, rows[0][6], "an OpenCL device has a timer: device_ms")
		} else {
			require.Empty(t, rows[0][6], "the cpu backend has no device timer")
		}
	}
}

// tableRows are the cells of the rows of bench.WriteTable's table, header left out.
func tableRows(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	header := regexp.MustCompile(`^\s*op\s+shape\s+median ms`)
	seen := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if header.MatchString(line) {
			seen = true
			continue
		}
		if seen {
			rows = append(rows, strings.Fields(line))
		}
	}
	require.True(t, seen, out)
	return rows
}

func TestBenchShapeFlagNeedsOp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"bench", "--seq", "128"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "--seq sets the shape of --op")
	require.Empty(t, stdout.String())
}

// TestBenchKernels runs gpubench bench --kernels: on an OpenCL device the table
// is followed by the case's kernels and the JSON carries them; the cpu
// backend, which has no kernels to time, is refused before anything runs.
func TestBenchKernels(t *testing.T) {
	opencl := fmt.Sprintf("opencl:%d", gputest.Device(t).Info().Index)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--reps", "2", "--quiet", "--kernels", "--json", jsonPath, "--device", opencl,
		"--op", "layernorm", "--seq", "17", "--d-model", "48"}
	require.Equal(t, 0, run(args, &stdout, &stderr), "%v: %s", args, stderr.String())
	require.Regexp(t, `(?m)^kernels of layernorm \S+ \(device time per run, median\):$`, stdout.String())
	require.Regexp(t, `(?m)^\s+LayerNorm\s+layer_norm\S*\s+1\s+[0-9.]+\s+100\.0$`, stdout.String())
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	report, err := bench.ReadReport(bytes.NewReader(data))
	require.NoError(t, err)
	require.Len(t, report.Results[0].Kernels, 1)
	require.Equal(t, "LayerNorm", report.Results[0].Kernels[0].Op)

	stdout.Reset()
	stderr.Reset()
	cpuJSON := filepath.Join(t.TempDir(), "cpu.json")
	require.Equal(t, 1, run([]string{"bench", "--kernels", "--device", "cpu", "--op", "layernorm", "--json", cpuJSON}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "--kernels: cpu has no per-kernel device times")
	require.NoFileExists(t, cpuJSON)
}
