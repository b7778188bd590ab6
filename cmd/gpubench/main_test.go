package main

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelp: help, -h and --help list every command with one line each and the
// main job's flags, on stdout, exit 0; help COMMAND prints that command's flags.
func TestHelp(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}, {"--device", "cpu", "-h"}} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, run(args, &stdout, &stderr), "%v", args)
		require.Empty(t, stderr.String(), "%v", args)
		out := stdout.String()
		for _, n := range names {
			require.Regexp(t, `(?m)^  `+n+` +\S.*$`, out, "%v: command %s", args, n)
		}
		require.Contains(t, out, "usage: gpubench main", "%v: the main job's flags", args)
		require.Contains(t, out, "-verbose", "%v", args)
	}

	for _, args := range [][]string{{"help", "bench"}, {"bench", "-h"}, {"bench", "--help"}} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, run(args, &stdout, &stderr), "%v", args)
		require.Contains(t, stdout.String(), "usage: gpubench bench", "%v", args)
		require.Contains(t, stdout.String(), "-suite", "%v", args)
		require.Empty(t, stderr.String(), "%v", args)
	}

	var stdout, stderr bytes.Buffer

	stdout.Reset()
	require.Equal(t, 2, run([]string{"help", "nosuch"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), `unknown command "nosuch"`)
	require.Empty(t, stdout.String())

	stderr.Reset()
	require.Equal(t, 2, run([]string{"nosuch"}, &stdout, &stderr))
	require.True(t, strings.Contains(stderr.String(), "commands:"), stderr.String())
}
