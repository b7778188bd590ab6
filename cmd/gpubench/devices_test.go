package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runChild runs gpubench with args in a fresh process of this test binary
// (TestMain runs main there; the OpenCL loader reads its variables once per process) with the variables
// of env ("KEY=value") set, or unset where the value is empty, and returns its
// status and output.
func runChild(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(env, func(set string) bool {
			return strings.HasPrefix(kv, set[:strings.IndexByte(set, '=')+1])
		})
	})
	for _, kv := range env {
		if !strings.HasSuffix(kv, "=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, asGpubench+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, stderr.String())
		status = exit.ExitCode()
	}
	return status, stdout.String(), stderr.String()
}

// TestDevicesNoPlatform: where the OpenCL loader finds no platform, devices
// says so and where the loader looked, instead of silently listing cpu alone.
func TestDevicesNoPlatform(t *testing.T) {
	empty := t.TempDir()
	status, out, errOut := runChild(t, []string{"OCL_ICD_VENDORS=" + empty}, "devices")
	require.Equal(t, 0, status, errOut)
	require.Contains(t, out, "no OpenCL: the OpenCL loader found no platform; it looked in $OCL_ICD_VENDORS="+empty+": no .icd file there\n")
	require.Regexp(t, `(?m)^-\s+cpu\s+pure Go`, out)

	status, out, errOut = runChild(t, []string{"OCL_ICD_VENDORS=" + empty}, "devices", "--json")
	require.Equal(t, 0, status, errOut)
	var r struct {
		Devices []deviceRow `json:"devices"`
		OpenCL  string      `json:"opencl_error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Devices, 1)
	require.Contains(t, r.OpenCL, "found no platform")

	// The main job says why and checks the pure-Go backend alone.
	status, out, errOut = runChild(t, []string{"OCL_ICD_VENDORS=" + empty}, "--device", "opencl")
	require.Equal(t, 1, status, out)
	require.Contains(t, errOut, "no OpenCL device found")
	status, out, errOut = runChild(t, []string{"OCL_ICD_VENDORS=" + empty, "CLATTN_DEVICE="})
	require.Equal(t, 0, status, errOut)
	require.Contains(t, out, "clattn on this machine: 1 of 1 devices passed")
	require.Contains(t, out, "no OpenCL: the OpenCL loader found no platform")
	require.Regexp(t, `(?m)^cpu \* +cpuref \(all cores\) +PASS `, out)
	require.NotContains(t, out, "median ms", "the tables only with --verbose")
	require.NotContains(t, out, "ABS LIMIT")

	t.Run("PoCL without a cache folder", func(t *testing.T) {
		icd, err := os.ReadFile("/etc/OpenCL/vendors/pocl.icd")
		if err != nil {
			t.Skip("PoCL is not installed: ", err)
		}
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "pocl.icd"), icd, 0o644))
		// HOME a file: PoCL cannot create its kernel cache, even as root, and leaves its platform out.
		// (POCL_CACHE_DIR must be unset, not empty: PoCL 3.1 aborts the process on an empty one.)
		status, out, errOut := runChild(t, []string{"OCL_ICD_VENDORS=" + dir, "HOME=/dev/null", "XDG_CACHE_HOME=", "POCL_CACHE_DIR="}, "devices")
		require.Equal(t, 0, status, errOut)
		require.Contains(t, out, "it looked in $OCL_ICD_VENDORS="+dir+": pocl.icd -> "+strings.TrimSpace(string(icd))+
			": a driver that fails to start is left out (PoCL needs a writable cache folder")
	})
}

// TestBadDeviceEnvironment: a bad $CLATTN_DEVICE, one that does not parse or
// selects no device, is named in the error.
func TestBadDeviceEnvironment(t *testing.T) {
	for _, spec := range []string{"cuda", "opencl:no-such-device-xyz"} {
		t.Setenv("CLATTN_DEVICE", spec)
		var stdout, stderr bytes.Buffer
		require.Equal(t, 1, run([]string{"verify", "--quick"}, &stdout, &stderr), spec)
		require.True(t, strings.HasPrefix(stderr.String(), `gpubench verify: $CLATTN_DEVICE: device spec "`+spec+`": `), stderr.String())
	}
}
