package golden

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/safetensors"
)

const goldenDir = "../testdata/golden"

// runAll runs every golden case on be and fails the test for each failed
// output.
func runAll(t *testing.T, be backend.Backend) {
	t.Helper()
	results, err := RunDir(be, goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{}
	for _, r := range results {
		cases[r.Case] = true
		if r.Pass {
			t.Log(r)
		} else {
			t.Error(r)
		}
	}
	files, err := caseFiles(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != len(files) {
		t.Errorf("%d cases gave results, the index lists %d files", len(cases), len(files))
	}
}

func TestGoldenCPU(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	runAll(t, be)
}

// TestGoldenOpenCL runs every case on every OpenCL device (PoCL in CI).
func TestGoldenOpenCL(t *testing.T) {
	for _, dev := range gputest.Devices(t) {
		t.Run(dev.Name(), func(t *testing.T) { runAll(t, dev) })
	}
}

// TestIndexMatchesFiles checks that index.json lists exactly the case files.
func TestIndexMatchesFiles(t *testing.T) {
	listed, err := caseFiles(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var present []string
	for _, p := range paths {
		present = append(present, filepath.Base(p))
	}
	sort.Strings(listed)
	if strings.Join(listed, ",") != strings.Join(present, ",") {
		t.Fatalf("index.json lists %v, the directory holds %v", listed, present)
	}
	if len(listed) == 0 {
		t.Fatal("no golden cases")
	}
}

// caseFile writes a small synthetic case through the safetensors writer.
func caseFile(t *testing.T, meta map[string]string, tensors ...*safetensors.Tensor) *safetensors.File {
	t.Helper()
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sdpaCase is a 1x1x2x2 attention case whose exact answer is easy: q = 0, so
// the weights are uniform and out is the mean of v.
func sdpaCase(meta map[string]string, extra ...*safetensors.Tensor) []*safetensors.Tensor {
	ts := []*safetensors.Tensor{
		safetensors.FromFloat32("q", []float32{0, 0, 0, 0}, 1, 1, 2, 2),
		safetensors.FromFloat32("k", []float32{1, 2, 3, 4}, 1, 1, 2, 2),
		safetensors.FromFloat32("v", []float32{1, 2, 3, 4}, 1, 1, 2, 2),
		safetensors.FromFloat32("out", []float32{2, 3, 2, 3}, 1, 1, 2, 2),
		safetensors.FromFloat64("out_f64", []float64{2, 3, 2, 3}, 1, 1, 2, 2),
		safetensors.FromFloat64("attn_weights_f64", []float64{0.5, 0.5, 0.5, 0.5}, 1, 1, 2, 2),
	}
	return append(ts, extra...)
}

func TestSyntheticSDPA(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	rs := Run(be, caseFile(t, map[string]string{"kind": "sdpa"}, sdpaCase(nil)...), "synthetic")
	if len(rs) != 3 {
		t.Fatalf("want out, out (unfused), attn_weights; got %v", rs)
	}
	for _, r := range rs {
		if !r.Pass || r.Case != "synthetic" || r.Kind != "sdpa" {
			t.Error(r)
		}
	}
}

// TestFailures checks that what the runner cannot run fails with a reason.
func TestFailures(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	wrongOut := sdpaCase(nil)
	wrongOut[4] = safetensors.FromFloat64("out_f64", []float64{2, 3, 2, 3.1}, 1, 1, 2, 2)
	// PyTorch's float32 out 1e-3 off out_f64: it would widen the limit 700x; a bad file fails.
	badBaseline := sdpaCase(nil)
	badBaseline[3] = safetensors.FromFloat32("out", []float32{2.001, 3.001, 2.001, 3.001}, 1, 1, 2, 2)
	for _, c := range []struct {
		name    string
		meta    map[string]string
		tensors []*safetensors.Tensor
		want    string
	}{
		{"no kind", map[string]string{}, sdpaCase(nil), "no kind"},
		{"unknown kind", map[string]string{"kind": "rnn"}, sdpaCase(nil), `unknown kind "rnn"`},
		{"unknown option", map[string]string{"kind": "sdpa", "alibi": "True"}, sdpaCase(nil), "unsupported option(s) for kind sdpa: alibi"},
		{"bad bool", map[string]string{"kind": "sdpa", "causal": "maybe"}, sdpaCase(nil), `causal = "maybe"`},
		{"missing input", map[string]string{"kind": "sdpa"}, sdpaCase(nil)[1:], `missing tensor "q"`},
		{"extra input", map[string]string{"kind": "sdpa"}, sdpaCase(nil, safetensors.FromFloat32("bias", []float32{1}, 1)), "unexpected tensor(s) for kind sdpa: bias"},
		{"mask flag without mask", map[string]string{"kind": "sdpa", "mask": "bool"}, sdpaCase(nil), "no attn_mask"},
		{"float key padding", map[string]string{"kind": "sdpa"},
			sdpaCase(nil, safetensors.FromFloat32("key_padding_mask", []float32{0, 0}, 1, 2)), "kind sdpa takes boolean key padding masks only"},
		{"wrong answer", map[string]string{"kind": "sdpa"}, wrongOut, "over="},
		{"bad float32 baseline", map[string]string{"kind": "sdpa"}, badBaseline, "PyTorch's float32 out is itself off out_f64"},
		{"bad causal_align", map[string]string{"kind": "sdpa", "causal": "True", "causal_align": "middle"}, sdpaCase(nil),
			`causal_align = "middle", want top_left or bottom_right`},
		{"causal_align without causal", map[string]string{"kind": "sdpa", "causal_align": "bottom_right"}, sdpaCase(nil),
			"without causal"},
		{"heads_kv not k's", map[string]string{"kind": "sdpa", "heads_kv": "2"}, sdpaCase(nil), "heads_kv = 2, but k is [1 1 2 2]"},
		{"mask_shape not the mask's", map[string]string{"kind": "sdpa", "mask_shape": "b1qk"},
			sdpaCase(nil, safetensors.FromFloat32("attn_mask", []float32{0, 0, 0, 0}, 2, 2)), "mask_shape = b1qk, but attn_mask is [2 2]"},
		{"mask_shape without mask", map[string]string{"kind": "sdpa", "mask_shape": "11qk"}, sdpaCase(nil), "no attn_mask"},
		{"kv_dtype of f32 tensors", map[string]string{"kind": "sdpa", "kv_dtype": "f16"}, sdpaCase(nil), "kv_dtype = f16 but k is F32"},
		{"kv_dtype bf16", map[string]string{"kind": "sdpa", "kv_dtype": "bf16"}, sdpaCase(nil), `kv_dtype = "bf16", want f16`},
		{"rope_scaling of another rope_type", map[string]string{"kind": "rope", "rope_scaling": `{"rope_type": "yarn", "factor": 4.0}`},
			[]*safetensors.Tensor{safetensors.FromFloat32("x", make([]float32, 4), 1, 1, 1, 4), safetensors.FromFloat64("out_f64", make([]float64, 4), 1, 1, 1, 4)},
			`metadata rope_scaling: model: unsupported model configuration: rope_scaling {"rope_type": "yarn", "factor": 4.0}: rope_type "yarn" is not supported`},
		{"mha without heads", map[string]string{"kind": "mha"}, []*safetensors.Tensor{
			safetensors.FromFloat32("q", make([]float32, 4), 1, 2, 2),
			safetensors.FromFloat32("kv", make([]float32, 4), 1, 2, 2),
			safetensors.FromFloat64("out_f64", make([]float64, 4), 1, 2, 2),
		}, "metadata heads"},
		{"mha missing weights", map[string]string{"kind": "mha", "heads": "1"}, []*safetensors.Tensor{
			safetensors.FromFloat32("q", make([]float32, 4), 1, 2, 2),
			safetensors.FromFloat32("kv", make([]float32, 4), 1, 2, 2),
			safetensors.FromFloat32("self_attn.in_proj_weight", make([]float32, 12), 6, 2),
			safetensors.FromFloat64("out_f64", make([]float64, 4), 1, 2, 2),
		}, "missing self_attn.out_proj.weight [2 2]; missing self_attn.in_proj_bias [6]; missing self_attn.out_proj.bias [2]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := Run(be, caseFile(t, c.meta, c.tensors...), c.name)
			failed := false
			for _, r := range rs {
				if !r.Pass {
					failed = true
					if !strings.Contains(r.Reason, c.want) {
						t.Errorf("reason %q does not contain %q", r.Reason, c.want)
					}
				}
			}
			if !failed {
				t.Errorf("no failed result: %v", rs)
			}
		})
	}
}

// TestKeyPaddingFloatFlag checks that the metadata key_padding_float must
// match the kind of a module case's key padding masks.
func TestKeyPaddingFloatFlag(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	for _, c := range []struct{ file, flag, want string }{
		{"transformer_float_key_padding", "False", "key_padding_float = false but the file's key padding masks do not say so"},
		{"transformer_small", "True", "key_padding_float = true but the file's key padding masks do not say so"},
		{"encoder_postln_relu", "True", "key_padding_float = true but the file's key padding masks do not say so"},
	} {
		t.Run(c.file, func(t *testing.T) {
			f, err := safetensors.ReadFile(filepath.Join(goldenDir, c.file+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			meta := maps.Clone(f.Metadata)
			meta["key_padding_float"] = c.flag
			rs := Run(be, caseFile(t, meta, f.Tensors...), c.file)
			if len(rs) == 0 || rs[0].Pass || !strings.Contains(rs[0].Reason, c.want) {
				t.Errorf("got %v, want a failure saying %q", rs, c.want)
			}
		})
	}
}

// TestRunDirWithoutIndex runs a directory that has no index.json.
func TestRunDirWithoutIndex(t *testing.T) {
	dir := t.TempDir()
	if err := safetensors.WriteFile(filepath.Join(dir, "a.safetensors"), sdpaCase(nil), map[string]string{"kind": "sdpa"}); err != nil {
		t.Fatal(err)
	}
	be := cpuref.New()
	defer be.Close()
	rs, err := RunDir(be, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].Case != "a" {
		t.Fatalf("results %v", rs)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(`[{"file":"../x"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RunDir(be, dir); err == nil || !strings.Contains(err.Error(), "bad file name") {
		t.Fatalf("error %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(`[{"file":"b.safetensors"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RunDir(be, dir); err == nil {
		t.Fatal("a missing case file is an error")
	}
	var idx []map[string]any
	b, err := os.ReadFile(filepath.Join(goldenDir, "index.json"))
	if err != nil || json.Unmarshal(b, &idx) != nil || len(idx) == 0 {
		t.Fatalf("golden index unreadable: %v", err)
	}
}
