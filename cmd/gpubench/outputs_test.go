package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// asGpubench, set in the environment, makes the test binary run gpubench's
// main instead of the tests: the tests below drive the real command as a
// separate process (exit status, files, signals) without building it again.
const asGpubench = "GPUBENCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asGpubench) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// gpubenchResult is the outcome of one gpubench process.
type gpubenchResult struct {
	status         int
	stdout, stderr string
}

// gpubench runs the gpubench command with args in dir as its own process;
// fileLimitKB > 0 limits the size of every file it writes (RLIMIT_FSIZE, as
// a full disk fails a write: EFBIG where ENOSPC would come).
func gpubench(t *testing.T, dir string, fileLimitKB int, args ...string) gpubenchResult {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	var cmd *exec.Cmd
	if fileLimitKB > 0 {
		// bash counts -f in KiB; the limit applies to gpubench alone.
		script := "ulimit -f " + strconv.Itoa(fileLimitKB) + ` && exec "$0" "$@"`
		cmd = exec.Command("bash", append([]string{"-c", script, self}, args...)...)
	} else {
		cmd = exec.Command(self, args...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asGpubench+"=1", "CLATTN_TUNING_CACHE=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := gpubenchResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.status = exit.ExitCode()
	default:
		require.NoError(t, err)
	}
	requireNoTrace(t, r.stderr)
	return r
}

// fileState is a file's content and mode, to check that it is unchanged.
type fileState struct {
	data []byte
	mode os.FileMode
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	return fileState{data, st.Mode()}
}

// requireUnchanged fails unless path still has the content and mode of before.
func requireUnchanged(t *testing.T, path string, before fileState) {
	t.Helper()
	after := stateOf(t, path)
	require.Equal(t, before.mode, after.mode, "%s: mode changed", path)
	require.True(t, bytes.Equal(before.data, after.data), "%s: content changed (%d bytes, was %d)", path, len(after.data), len(before.data))
}

// requireNoTemp fails if a temporary file of an output was left in dir.
func requireNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".tmp-", "temporary file left in %s", dir)
	}
}

// TestRunOutputIsInput runs gpubench run with --output naming the weights or
// the inputs (directly, through a symbolic link, through a hard link): each is
// refused with exit 1 and the file is left as it was.
func TestRunOutputIsInput(t *testing.T) {
	dir := t.TempDir()
	weights, input, _ := splitGolden(t, dir, "encoder_postln_relu")
	sym := filepath.Join(dir, "sym.safetensors")
	require.NoError(t, os.Symlink(weights, sym))
	hard := filepath.Join(dir, "hard.safetensors")
	require.NoError(t, os.Link(input, hard))
	wBefore, inBefore := stateOf(t, weights), stateOf(t, input)
	for _, out := range []string{weights, input, sym, hard, "./" + filepath.Base(input)} {
		r := gpubench(t, dir, 0, "run", "--device", "cpu", "--layer", "encoder", "--heads", "2",
			"--weights", weights, "--input", input, "--output", out)
		require.Equal(t, 1, r.status, "--output %s: %s", out, r.stderr)
		require.Contains(t, r.stderr, "is the input", out)
		require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r.stderr)
		requireUnchanged(t, weights, wBefore)
		requireUnchanged(t, input, inBefore)
	}
	requireNoTemp(t, dir)
}

// TestOutputWriteFailureKeepsOldFile makes every write of gpubench fail past
// 1 KiB (as on a full disk) and checks that an existing output file is left
// as it was, with no temporary file behind; then that the same command without
// the limit replaces it and keeps its mode.
func TestOutputWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	weights, input, _ := splitGolden(t, dir, "encoder_postln_relu")
	out := filepath.Join(dir, "out.safetensors")
	require.NoError(t, os.WriteFile(out, []byte("the result of yesterday"), 0o640))
	before := stateOf(t, out)
	args := []string{"run", "--device", "cpu", "--layer", "encoder", "--heads", "2", "--weights", weights, "--input", input, "--output", out}
	r := gpubench(t, dir, 1, args...)
	require.Equal(t, 1, r.status, r.stderr)
	require.Contains(t, r.stderr, "file too large")
	requireUnchanged(t, out, before)
	requireNoTemp(t, dir)

	r = gpubench(t, dir, 0, args...)
	require.Equal(t, 0, r.status, r.stderr)
	after := stateOf(t, out)
	require.Greater(t, len(after.data), 1024)
	require.Equal(t, before.mode, after.mode, "a replaced output keeps its mode")
}

// TestOutputNonRegularRefused gives a named pipe and a directory as outputs:
// refused, exit 1, and the pipe is still a pipe.
func TestOutputNonRegularRefused(t *testing.T) {
	dir := t.TempDir()
	weights, input, _ := splitGolden(t, dir, "encoder_postln_relu")
	fifo := filepath.Join(dir, "pipe")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	for _, out := range []string{fifo, dir} {
		r := gpubench(t, dir, 0, "run", "--device", "cpu", "--layer", "encoder", "--heads", "2",
			"--weights", weights, "--input", input, "--output", out)
		require.Equal(t, 1, r.status, r.stderr)
		require.Contains(t, r.stderr, "not a regular file")
		r = gpubench(t, dir, 0, "bench", "--device", "cpu", "--op", "gemm", "--seq", "8", "--reps", "1", "--json", out)
		require.Equal(t, 1, r.status, r.stderr)
		require.Contains(t, r.stderr, "not a regular file")
		require.Empty(t, r.stdout, "refused before the work")
	}
	st, err := os.Lstat(fifo)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&os.ModeNamedPipe, "the pipe is still a pipe")
}

// TestOutputsCheckedBeforeWork gives every writing command an output in a
// folder that does not exist: exit 1 before any work (nothing on stdout).
func TestOutputsCheckedBeforeWork(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "no", "such", "folder", "out")
	weights, input, _ := splitGolden(t, dir, "encoder_postln_relu")
	caseFile, err := filepath.Abs(filepath.Join(goldenDir, "sdpa_basic.safetensors"))
	require.NoError(t, err)
	for _, args := range [][]string{
		{"run", "--device", "cpu", "--layer", "encoder", "--heads", "2", "--weights", weights, "--input", input, "--output", bad + ".safetensors"},
		{"bench", "--device", "cpu", "--op", "gemm", "--seq", "8", "--json", bad + ".json"},
		{"bench", "--device", "cpu", "--op", "gemm", "--seq", "8", "--csv", bad + ".csv"},
		{"bench", "--device", "cpu", "--op", "gemm", "--seq", "8", "--plot", bad + ".png"},
		{"verify", "--device", "cpu", "--quick", "--json", bad + ".json"},
		{"golden", "--device", "cpu", "--json", bad + ".json", caseFile},
		{"explain", "scaling", "--device", "cpu", "--plot", bad + ".png"},
		{"main", "--device", "cpu", "--json", bad + ".json"},
	} {
		r := gpubench(t, dir, 0, args...)
		require.Equal(t, 1, r.status, "%v: %s", args, r.stderr)
		require.Contains(t, r.stderr, "no such file or directory", args)
		require.Empty(t, r.stdout, "%v: refused before the work", args)
	}
	r := gpubench(t, dir, 0, "bench", "--device", "cpu", "--op", "gemm", "--seq", "8", "--plot", filepath.Join(dir, "plot.txt"))
	require.Equal(t, 2, r.status, r.stderr)
	require.Contains(t, r.stderr, "want a .png, .svg or .pdf file")
}

// TestOutputsRefuseInputs names an input as the output of golden --json,
// plot --out and attn-map (attention.json a link to the case file): refused,
// inputs unchanged.
func TestOutputsRefuseInputs(t *testing.T) {
	dir := t.TempDir()
	caseFile := filepath.Join(dir, "case.safetensors")
	data, err := os.ReadFile(filepath.Join(goldenDir, "sdpa_basic.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(caseFile, data, 0o644))
	before := stateOf(t, caseFile)

	r := gpubench(t, dir, 0, "golden", "--device", "cpu", "--json", caseFile, caseFile)
	require.Equal(t, 1, r.status, r.stderr)
	require.Contains(t, r.stderr, "is the input")
	requireUnchanged(t, caseFile, before)

	report := filepath.Join(dir, "report.json")
	r = gpubench(t, dir, 0, "bench", "--device", "cpu", "--op", "gemm", "--seq", "8", "--reps", "1", "--json", report)
	require.Equal(t, 0, r.status, r.stderr)
	reportBefore := stateOf(t, report)
	r = gpubench(t, dir, 0, "plot", "--out", report, report)
	require.Equal(t, 1, r.status, r.stderr)
	require.Contains(t, r.stderr, "is the input")
	requireUnchanged(t, report, reportBefore)

	maps := filepath.Join(dir, "maps")
	require.NoError(t, os.Mkdir(maps, 0o755))
	require.NoError(t, os.Symlink(caseFile, filepath.Join(maps, "attention.json")))
	r = gpubench(t, dir, 0, "attn-map", "--device", "cpu", "--out", maps, caseFile)
	require.Equal(t, 1, r.status, r.stderr)
	require.Contains(t, r.stderr, "is the input")
	requireUnchanged(t, caseFile, before)
	entries, err := os.ReadDir(maps)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no picture written")
}

// TestTuneCacheForeignFile gives tune a --cache that is not a tuning cache:
// refused before any device is opened, content and mode unchanged.
func TestTuneCacheForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"important": "user data"}`), 0o644))
	before := stateOf(t, path)
	r := gpubench(t, dir, 0, "tune", "--device", "cpu", "--cache", path)
	require.Equal(t, 1, r.status, r.stderr)
	require.Contains(t, r.stderr, "not a tuning cache")
	requireUnchanged(t, path, before)
}

// TestOutputFullDisk writes run's output onto a 12 KiB tmpfs that already
// holds 8 KiB at the output path: the write fails with ENOSPC, and the old
// file stays as it was (it used to be deleted). Mounting needs root; the
// RLIMIT_FSIZE test above covers the same path everywhere.
func TestOutputFullDisk(t *testing.T) {
	dir := t.TempDir()
	weights, input, _ := splitGolden(t, dir, "encoder_postln_relu")
	disk := filepath.Join(dir, "disk")
	require.NoError(t, os.Mkdir(disk, 0o755))
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=12k"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v)", err)
	}
	t.Cleanup(func() { require.NoError(t, syscall.Unmount(disk, 0)) })
	out := filepath.Join(disk, "out.safetensors")
	require.NoError(t, os.WriteFile(out, bytes.Repeat([]byte("yesterday's result\n"), 400), 0o644))
	before := stateOf(t, out)
	r := gpubench(t, dir, 0, "run", "--device", "cpu", "--layer", "encoder", "--heads", "2",
		"--weights", weights, "--input", input, "--output", out)
	require.Equal(t, 1, r.status, r.stderr)
	require.Contains(t, r.stderr, "no space left on device")
	requireUnchanged(t, out, before)
	requireNoTemp(t, disk)
}
