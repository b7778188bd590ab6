package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
)

// tinyCheckpoint writes a small random Llama checkpoint folder.
func tinyCheckpoint(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-llama")
	cfg := model.LlamaConfig{VocabSize: 61, Hidden: 32, Intermediate: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8,
		RMSNormEps: 1e-5, RopeTheta: 10000}
	require.NoError(t, model.WriteRandomCheckpoint(dir, cfg, backend.BFloat16, 3))
	return dir
}

// TestGenerate: the ids line, the timing line and --json agree, and an f16 and
// an f32 KV cache give the same ids on this small model.
func TestGenerate(t *testing.T) {
	dir := tinyCheckpoint(t)
	out := filepath.Join(t.TempDir(), "gen.json")
	var stdout, stderr bytes.Buffer
	status := run([]string{"generate", "--device", "cpu", "--model", dir, "--prompt-ids", "1,2,3,4", "--max-new-tokens", "5", "--json", out}, &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2, stdout.String())
	require.True(t, strings.HasPrefix(lines[0], "ids: "), lines[0])
	require.Len(t, strings.Split(strings.TrimPrefix(lines[0], "ids: "), ","), 5)
	require.Contains(t, lines[1], "prefill")
	require.Contains(t, lines[1], "tokens/s (4 steps)")
	var rep generateReport
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.IDs, 5)
	require.Equal(t, "cpu", rep.Device)
	require.NotNil(t, rep.DecodeTokensPerS)
	require.Greater(t, *rep.DecodeTokensPerS, 0.0)
	ids := make([]string, len(rep.IDs))
	for i, id := range rep.IDs {
		ids[i] = strconv.Itoa(id)
	}
	require.Equal(t, "ids: "+strings.Join(ids, ","), lines[0], "--json and stdout disagree")

	stdout.Reset()
	status = run([]string{"generate", "--device", "cpu", "--model", dir, "--prompt-ids", "1,2,3,4", "--max-new-tokens", "5", "--kv-dtype", "f32"}, &stdout, &stderr)
	require.Equal(t, 0, status, stderr.String())
	require.Equal(t, lines[0], strings.Split(stdout.String(), "\n")[0], "f32 and f16 caches chose different tokens")
}

// TestGenerateStopsAtEOS: with generation_config.json's eos_token_id set to
// the third token a run generates, generate stops there (stdout, --json and
// the step count agree); --ignore-eos generates every token.
func TestGenerateStopsAtEOS(t *testing.T) {
	dir := tinyCheckpoint(t)
	generate := func(extra ...string) (string, generateReport) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "gen.json")
		var stdout, stderr bytes.Buffer
		args := append([]string{"generate", "--device", "cpu", "--model", dir, "--prompt-ids", "5,6,7", "--max-new-tokens", "6", "--json", out}, extra...)
		require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())
		var rep generateReport
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &rep))
		ids := make([]string, len(rep.IDs))
		for i, id := range rep.IDs {
			ids[i] = strconv.Itoa(id)
		}
		require.True(t, strings.HasPrefix(stdout.String(), "ids: "+strings.Join(ids, ",")+"\n"), "--json and stdout disagree: %s", stdout.String())
		return stdout.String(), rep
	}
	_, free := generate()
	require.Len(t, free.IDs, 6)
	require.False(t, free.StoppedAtEOS)
	stop := -1
	for s := 1; s < 5 && stop < 0; s++ {
		if !slices.Contains(free.IDs[:s], free.IDs[s]) {
			stop = s
		}
	}
	require.GreaterOrEqual(t, stop, 1, "every new token repeats the first: %v", free.IDs)
	eos := free.IDs[stop]
	require.NoError(t, os.WriteFile(filepath.Join(dir, model.GenerationConfigFile), []byte(fmt.Sprintf(`{"eos_token_id": [%d]}`, eos)), 0o644))

	stdout, rep := generate()
	require.Equal(t, free.IDs[:stop+1], rep.IDs, "generation did not stop at eos_token_id %d", eos)
	require.True(t, rep.StoppedAtEOS)
	require.Contains(t, stdout, fmt.Sprintf("(%d steps)", stop))
	require.Contains(t, stdout, fmt.Sprintf("stopped at eos_token_id %d", eos))

	stdout, rep = generate("--ignore-eos")
	require.Equal(t, free.IDs, rep.IDs)
	require.False(t, rep.StoppedAtEOS)
	require.Contains(t, stdout, "(5 steps)")
	require.NotContains(t, stdout, "stopped at")

	// --json never overwrites generation_config.json.
	var so, se bytes.Buffer
	target := filepath.Join(dir, model.GenerationConfigFile)
	require.Equal(t, 1, run([]string{"generate", "--device", "cpu", "--model", dir, "--prompt-ids", "1", "--json", target}, &so, &se), se.String())
	after, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf(`{"eos_token_id": [%d]}`, eos), string(after))
}

// TestGenerateErrors: ids outside the vocabulary and a broken checkpoint are one
// line and exit 1, and --json is not written.
func TestGenerateErrors(t *testing.T) {
	dir := tinyCheckpoint(t)
	broken := filepath.Join(t.TempDir(), "broken")
	require.NoError(t, os.Mkdir(broken, 0o755))
	cfg, err := os.ReadFile(filepath.Join(dir, model.ConfigFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(broken, model.ConfigFile), []byte(strings.Replace(string(cfg), "LlamaForCausalLM", "BertModel", 1)), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", dir, "--prompt-ids", "1,61"}, "id 61 (position 1) is outside the vocabulary"},
		{[]string{"--model", broken, "--prompt-ids", "1"}, "architecture BertModel is not supported"},
	} {
		out := filepath.Join(t.TempDir(), "gen.json")
		var stdout, stderr bytes.Buffer
		args := append([]string{"generate", "--device", "cpu", "--json", out}, c.args...)
		require.Equal(t, 1, run(args, &stdout, &stderr), stderr.String())
		require.Contains(t, stderr.String(), c.want)
		require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
		require.Empty(t, stdout.String())
		_, err := os.Stat(out)
		require.True(t, os.IsNotExist(err), "--json written despite the error")
	}
	// --json never overwrites the checkpoint's own files.
	var stdout, stderr bytes.Buffer
	target := filepath.Join(dir, model.ConfigFile)
	require.Equal(t, 1, run([]string{"generate", "--device", "cpu", "--model", dir, "--prompt-ids", "1", "--json", target}, &stdout, &stderr), stderr.String())
	after, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, string(cfg), string(after), "config.json changed")
}
