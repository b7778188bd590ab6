package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// exportScript is the README's PyTorch export script, relative to this package.
const exportScript = "../../scripts/export_encoder_layer.py"

// torchPython returns a python3 that imports torch (Debian's python3-torch is
// under /usr/bin), failing the test with what to install where there is none:
// the README's PyTorch walk-through is part of what the project promises.
func torchPython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		out, err := exec.Command(py, "-c", "import torch").CombinedOutput()
		if err == nil {
			return py
		}
		tried = append(tried, py+": "+string(bytes.TrimSpace(out))+" "+err.Error())
	}
	t.Fatalf("no python3 that imports torch (Debian: apt-get install python3-torch); tried %q", tried)
	return ""
}

// script runs the export script with args and returns its status and output.
func script(t *testing.T, py string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(py, append([]string{exportScript}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s", out)
		return exit.ExitCode(), string(out)
	}
	return 0, string(out)
}

// TestExportScriptUsage: the script's command line works without torch
// (usage errors exit 2, -h exits 0).
func TestExportScriptUsage(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		py = torchPython(t)
	}
	status, out := script(t, py)
	require.Equal(t, 2, status, out)
	require.Contains(t, out, "the following arguments are required: DIR")

	status, out = script(t, py, "-h")
	require.Equal(t, 0, status, out)
	require.Contains(t, out, "usage: export_encoder_layer.py")
	require.Contains(t, out, "--d-model")

	status, out = script(t, py, t.TempDir(), "--heads", "3")
	require.Equal(t, 2, status, out)
	require.Contains(t, out, "--heads 3 does not divide --d-model 512")
}

// TestExportScriptRoundTrip walks the README's "From PyTorch to clattn" section
// in a temporary folder the script must create: export a small encoder layer,
// run it with gpubench run on cpu, compare with PyTorch's own output.
func TestExportScriptRoundTrip(t *testing.T) {
	py := torchPython(t)
	dir := filepath.Join(t.TempDir(), "not", "yet")
	status, out := script(t, py, dir, "--d-model", "64", "--heads", "4", "--d-ff", "96", "--seq", "7")
	require.Equal(t, 0, status, out)
	for _, name := range []string{"layer", "input", "torch_out"} {
		require.FileExists(t, filepath.Join(dir, name+".safetensors"))
	}

	status, out = script(t, py, "--compare", dir)
	require.Equal(t, 1, status, "compare before gpubench run wrote out.safetensors: %s", out)
	require.Contains(t, out, "out.safetensors is missing")

	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--device", "cpu", "--layer", "encoder", "--heads", "4",
		"--weights", filepath.Join(dir, "layer.safetensors"), "--input", filepath.Join(dir, "input.safetensors"),
		"--output", filepath.Join(dir, "out.safetensors")}, &stdout, &stderr)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	status, out = script(t, py, "--compare", dir)
	require.Equal(t, 0, status, out)
	m := regexp.MustCompile(`max \|clattn - PyTorch\| = (\S+) \(PyTorch output max (\S+)\)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	diff, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	scale, err := strconv.ParseFloat(m[2], 64)
	require.NoError(t, err)
	require.Positive(t, scale, out)
	// PyTorch computes in float32 too: both sit within a few ulps of the true layer output.
	require.Less(t, diff, 1e-5*scale, out)
}
