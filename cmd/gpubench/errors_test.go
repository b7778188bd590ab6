package main

import (
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireNoTrace fails if s looks like a Go panic or stack trace.
func requireNoTrace(t *testing.T, s string) {
	t.Helper()
	for _, sign := range []string{"goroutine ", "panic:", "runtime error", ".go:", "[recovered]"} {
		require.NotContains(t, s, sign, "output shows a Go stack trace or panic:\n%s", s)
	}
}

// TestCommandErrors runs every subcommand with a bad command line (exit 2,
// usage on stderr) and with a missing file or an unknown device (exit 1, one
// line on stderr), and checks that no Go stack trace is ever printed. Every
// registered subcommand must have rows here.
func TestCommandErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.safetensors")
	const noDevice = "opencl:no-such-device-xyz"
	type row struct {
		args   []string
		status int
		want   string // in stderr
	}
	table := map[string][]row{
		"devices": {
			{[]string{"--bogus"}, 2, "usage: gpubench devices"},
		},
		"bench": {
			{[]string{"--bogus"}, 2, "usage: gpubench bench"},
			{[]string{"--op", "nosuch"}, 2, `unknown op "nosuch"`},
			{[]string{"--op", "gemm", "--layers", "2"}, 2, "--layers applies to --op embed only"},
			{[]string{"--op", "embed", "--layers", "0"}, 2, "layers must all be > 0"},
			{[]string{"--reps", "x"}, 2, "invalid value"},
			{[]string{"--device", noDevice, "--op", "gemm", "--seq", "8"}, 1, "no-such-device-xyz"},
			{[]string{"--op", "decode", "--heads", "6", "--heads-kv", "4"}, 2, "heads-kv 4 must divide heads 6"},
			{[]string{"--op", "decode", "--kv-dtype", "f8"}, 2, `kv-dtype "f8": want f32 or f16`},
			{[]string{"--op", "decoder-step", "--heads-kv", "5"}, 2, "heads-kv 5 must divide heads 32"},
			{[]string{"--op", "decoder-step", "--seq", "8", "--seq-kv", "4"}, 2, "seq-kv 4 < seq 8"},
		},
		"verify": {
			{[]string{"--bogus"}, 2, "usage: gpubench verify"},
			{[]string{"extra"}, 2, `unexpected argument "extra"`},
			{[]string{"--device", noDevice}, 1, "no-such-device-xyz"},
		},
		"main": {
			{[]string{"--bogus"}, 2, "usage: gpubench main"},
			{[]string{"extra"}, 2, `unexpected argument "extra"`},
		},
		"golden": {
			{[]string{"--bogus"}, 2, "usage: gpubench golden"},
			{nil, 2, "no case files"},
			{[]string{"--device", noDevice, missing}, 1, "no-such-device-xyz"},
			// A missing case file is a FAIL line on stdout, not an error: stderr stays empty.
			{[]string{"--device", "cpu", missing}, 1, ""},
		},
		"run": {
			{[]string{"--bogus"}, 2, "usage: gpubench run"},
			{[]string{"--layer", "encoder"}, 2, "--weights is required"},
			{[]string{"--heads", "-1", "--layer", "mha", "--weights", missing, "--input", missing, "--output", missing}, 2, "--heads"},
			{[]string{"--device", "cpu", "--layer", "encoder", "--heads", "2", "--weights", missing, "--input", missing, "--output", missing + ".out"}, 1, "no such file"},
		},
		"embed": {
			{[]string{"--bogus"}, 2, "usage: gpubench embed"},
			{[]string{"--input-ids", "1,2"}, 2, "--model is required"},
			{[]string{"--device", noDevice, "--model", t.TempDir(), "--input-ids", "1,2"}, 1, "no-such-device-xyz"},
			{[]string{"--device", "cpu", "--model", missing, "--input-ids", "1,2"}, 1, "config.json"},
		},
		"soak": {
			{[]string{"--bogus"}, 2, "usage: gpubench soak"},
			{[]string{"--duration", "abc"}, 2, "invalid value"},
			{[]string{"--duration", "-1s"}, 2, "want > 0"},
			{[]string{"extra"}, 2, `unexpected argument "extra"`},
			{[]string{"--device", noDevice, "--duration", "1s"}, 1, "no-such-device-xyz"},
			{[]string{"--device", "bogus", "--duration", "1s"}, 1, `device spec "bogus"`},
		},
		"attn-map": {
			{[]string{"--bogus"}, 2, "usage: gpubench attn-map"},
			{[]string{"--device", "cpu", "--layer", "encoder", "--heads", "2", "--weights", missing, "--input", missing, "--out", t.TempDir()}, 1, "no such file"},
		},
		"plot": {
			{[]string{"--bogus"}, 2, "usage: gpubench plot"},
			{[]string{missing}, 2, "--out is required"},
			{[]string{"--out", missing + ".png"}, 2, "no report files"},
			{[]string{"--out", missing + ".png", missing}, 1, "no such file"},
		},
		"tune": {
			{[]string{"--bogus"}, 2, "usage: gpubench tune"},
			{[]string{"extra"}, 2, `unexpected argument "extra"`},
			{[]string{"--budget", "0s"}, 2, "want > 0"},
			{[]string{"--device", noDevice}, 1, "no-such-device-xyz"},
			{[]string{"--device", "cpu"}, 1, "tune needs an OpenCL device"},
		},
		"generate": {
			{[]string{"--bogus"}, 2, "usage: gpubench generate"},
			{[]string{"--prompt-ids", "1,2"}, 2, "--model and --prompt-ids are required"},
			{[]string{"--model", missing, "--prompt-ids", "1,x"}, 2, `"x" is not a token id`},
			{[]string{"--model", missing, "--prompt-ids", "1", "--max-new-tokens", "0"}, 2, "--max-new-tokens 0: want >= 1"},
			{[]string{"--model", missing, "--prompt-ids", "1", "--kv-dtype", "bf16"}, 2, `--kv-dtype "bf16": want f16 or f32`},
			{[]string{"--model", missing, "--prompt-ids", "1"}, 1, "has no config.json"},
			{[]string{"--model", missing, "--prompt-ids", "1,2,3", "--max-new-tokens", "4", "--capacity", "5"}, 1, "more than --capacity 5"},
		},
		"random-model": {
			{[]string{"--bogus"}, 2, "usage: gpubench random-model"},
			{nil, 2, "--out is required"},
			{[]string{"--out", missing, "--preset", "gpt5"}, 2, `--preset "gpt5"`},
			{[]string{"--out", missing, "--dtype", "f8"}, 2, `--dtype "f8"`},
			{[]string{"--out", filepath.Dir(missing) + "/tiny", "--preset", "tiny", "--layers", "0", "--vocab", "0"}, 0, ""},
			{[]string{"--out", filepath.Dir(missing) + "/tiny", "--preset", "tiny"}, 1, "not overwriting a checkpoint"},
		},
		"explain": {
			{[]string{"--bogus"}, 2, "usage: gpubench explain"},
			{[]string{"nosuch"}, 2, `unknown topic "nosuch"`},
			{[]string{"scaling", "--device", noDevice}, 1, "no-such-device-xyz"},
		},
	}
	var names []string
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rows, ok := table[name]
		require.True(t, ok, "subcommand %q has no rows in TestCommandErrors", name)
		t.Run(name, func(t *testing.T) {
			for _, r := range rows {
				args := append([]string{name}, r.args...)
				var stdout, stderr bytes.Buffer
				status := run(args, &stdout, &stderr)
				msg := strings.Join(args, " ") + "\nstdout:\n" + stdout.String() + "\nstderr:\n" + stderr.String()
				require.Equal(t, r.status, status, msg)
				require.Contains(t, stderr.String(), r.want, msg)
				requireNoTrace(t, stdout.String()+stderr.String())
				if r.status == 1 && r.want != "" {
					require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "want one line:\n%s", msg)
					require.True(t, strings.HasPrefix(stderr.String(), "gpubench "+name+": "), msg)
				}
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"nosuch"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), `unknown command "nosuch"`)
	require.Contains(t, stderr.String(), "usage: gpubench")
	requireNoTrace(t, stderr.String())
}

// TestPanicIsOneLine: a bug that panics inside a subcommand gives one line and
// exit 1, not a stack trace.
func TestPanicIsOneLine(t *testing.T) {
	register("test-panic", "panics", func([]string, io.Writer, io.Writer) error {
		var m map[string]int
		m["x"] = 1 // assignment to a nil map
		return nil
	})
	defer delete(commands, "test-panic")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"test-panic"}, &stdout, &stderr))
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
	require.Contains(t, stderr.String(), "gpubench: internal error: assignment to entry in nil map")
}
