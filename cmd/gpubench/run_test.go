package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/internal/tolerance"
	"github.com/clattn/clattn/safetensors"
)

// inputNames are the tensors of a golden case that gpubench run reads from --input.
var inputNames = map[string]bool{
	"x": true, "tgt": true, "memory": true, "q": true, "kv": true, "attn_mask": true, "key_padding_mask": true,
	"tgt_mask": true, "tgt_key_padding_mask": true, "memory_mask": true, "memory_key_padding_mask": true,
	"k": true, "v": true, "src": true, "src_mask": true, "src_key_padding_mask": true,
}

// splitGolden writes the weights and the inputs of a golden case into two files
// of dir and returns their paths with the parsed case.
func splitGolden(t *testing.T, dir, name string) (weights, input string, f *safetensors.File) {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join(goldenDir, name+".safetensors"))
	require.NoError(t, err)
	var ws, xs []*safetensors.Tensor
	for _, tn := range f.Tensors {
		switch {
		case inputNames[tn.Name]:
			xs = append(xs, tn)
		case tn.Name == "out" || strings.HasPrefix(tn.Name, "out_") || strings.HasPrefix(tn.Name, "attn_weights"):
		default:
			ws = append(ws, tn)
		}
	}
	if kp := f.Tensor("src_key_padding_mask"); kp != nil && f.Metadata["kind"] == "transformer" {
		m := *kp // the transformer cases pass src_key_padding_mask as memory_key_padding_mask too
		m.Name = "memory_key_padding_mask"
		xs = append(xs, &m)
	}
	weights, input = filepath.Join(dir, name+".weights.safetensors"), filepath.Join(dir, name+".input.safetensors")
	require.NoError(t, safetensors.WriteFile(weights, ws, nil))
	require.NoError(t, safetensors.WriteFile(input, xs, nil))
	return weights, input, f
}

// TestRunGolden runs golden cases' weights and inputs through gpubench run and
// checks the written output against PyTorch's float64 result under the golden
// limit (package internal/tolerance).
func TestRunGolden(t *testing.T) {
	for _, tc := range []struct {
		name, layer string
		flags       []string
	}{
		{"encoder_postln_relu", "encoder", nil},
		{"encoder_preln_gelu", "encoder", []string{"--norm-first", "--activation", "gelu"}},
		{"encoder_stack3_finalnorm", "encoder", []string{"--final-norm", "--layers", "3"}},
		{"decoder_postln", "decoder", nil},
		{"decoder_preln_gelu", "decoder", []string{"--norm-first", "--activation", "gelu"}},
		{"mha_self_padding", "mha", nil},
		{"mha_cross", "mha", nil},
		{"mha_causal_nobias", "mha", nil},
		{"mha_seq_first_padding", "mha", []string{"--seq-first"}},
		{"mha_kdim_vdim", "mha", nil},
		{"mha_bias_kv_zero_attn", "mha", []string{"--add-zero-attn"}},
		{"mha_mask3d_avg", "mha", nil},
		{"mha_float_key_padding", "mha", nil},
		{"mha_seq_first_bias_kv_nobias_float_mask", "mha", []string{"--seq-first"}},
		{"mha_causal_bias_kv_zero_attn", "mha", []string{"--add-zero-attn"}},
		{"encoder_nobias_eps", "encoder", []string{"--eps", "0.01"}},
		{"encoder_stack2_seq_first", "encoder", []string{"--seq-first", "--final-norm"}},
		{"decoder_stack2_finalnorm", "decoder-stack", []string{"--final-norm"}},
		{"decoder_stack2_seq_first_nobias", "decoder", []string{"--seq-first", "--final-norm", "--eps", "0.001", "--final-norm-eps", "1e-5"}},
		{"transformer_small", "transformer", nil},
		{"encoder_stack2_float_key_padding", "encoder", []string{"--final-norm"}},
		{"transformer_float_key_padding", "transformer", nil},
		{"transformer_seq_first_preln_gelu_eps", "transformer", []string{"--seq-first", "--norm-first", "--activation", "gelu", "--eps", "0.02"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			weights, input, f := splitGolden(t, dir, tc.name)
			output := filepath.Join(dir, "out.safetensors")
			args := append([]string{"run", "--device", "cpu", "--layer", tc.layer, "--heads", f.Metadata["heads"],
				"--weights", weights, "--input", input, "--output", output}, tc.flags...)
			var stdout, stderr bytes.Buffer
			require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())
			require.Contains(t, stdout.String(), "written to "+output)

			y, err := safetensors.ReadFile(output)
			require.NoError(t, err)
			require.Len(t, y.Tensors, 1)
			got, err := y.Tensor("out").Float32s()
			require.NoError(t, err)
			want, err := f.Tensor("out_f64").Float64s()
			require.NoError(t, err)
			torch32, err := f.Tensor("out").Float32s()
			require.NoError(t, err)
			require.Equal(t, f.Tensor("out_f64").Shape, y.Tensor("out").Shape)
			dModel, err := strconv.Atoi(f.Metadata["d_model"])
			require.NoError(t, err)
			rep := tolerance.CheckRows(got, want, torch32, dModel)
			require.True(t, rep.OK(), "%s: %v", tc.name, rep)
		})
	}
}

// TestRunErrors: bad command lines exit 2 with usage, bad files and inputs
// that do not fit the layer exit 1 with one line, never a stack trace.
func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	weights, input, _ := splitGolden(t, dir, "encoder_postln_relu")
	output := filepath.Join(dir, "out.safetensors")
	extra := filepath.Join(dir, "extra.safetensors")
	in, err := safetensors.ReadFile(input)
	require.NoError(t, err)
	require.NoError(t, safetensors.WriteFile(extra, append(in.Tensors, safetensors.FromFloat32("src_msk", []float32{0}, 1)), nil))
	trWeights, trInput, _ := splitGolden(t, dir, "transformer_small")
	mixedPadding := filepath.Join(dir, "mixed_padding.safetensors")
	tr, err := safetensors.ReadFile(trInput)
	require.NoError(t, err)
	tgt := tr.Tensor("tgt")
	floatTgtPadding := safetensors.FromFloat32("tgt_key_padding_mask", make([]float32, tgt.Shape[0]*tgt.Shape[1]), tgt.Shape[0], tgt.Shape[1])
	require.NoError(t, safetensors.WriteFile(mixedPadding, append(tr.Tensors, floatTgtPadding), nil))

	base := []string{"run", "--device", "cpu", "--weights", weights, "--input", input, "--output", output}
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"no heads", append(base, "--layer", "encoder"), 2, "--heads must be given"},
		{"no layer", append(base, "--heads", "4"), 2, "--layer is required"},
		{"bad layer", append(base, "--layer", "lstm", "--heads", "4"), 2, `--layer "lstm"`},
		{"bad activation", append(base, "--layer", "encoder", "--heads", "4", "--activation", "tanh"), 2, `--activation "tanh"`},
		{"bad eps", append(base, "--layer", "encoder", "--heads", "4", "--eps", "-1"), 2, "--eps"},
		// Not representable as a positive float32: it must not become the default.
		{"eps rounds to 0", append(base, "--layer", "encoder", "--heads", "4", "--eps", "1e-50"), 2, "--eps 1e-50"},
		{"eps below the smallest float32", append(base, "--layer", "encoder", "--heads", "4", "--eps", "1e-46"), 2, "--eps 1e-46"},
		{"mha norm-first", append(base, "--layer", "mha", "--heads", "4", "--norm-first"), 2, "--norm-first does not apply"},
		{"transformer final-norm", append(base, "--layer", "transformer", "--heads", "4", "--final-norm"), 2, "--final-norm does not apply"},
		{"encoder add-zero-attn", append(base, "--layer", "encoder", "--heads", "4", "--add-zero-attn"), 2, "--add-zero-attn does not apply"},
		{"bad bool-mask", append(base, "--layer", "encoder", "--heads", "4", "--bool-mask", "true"), 2, "--bool-mask"},
		{"not a stack", append(base, "--layer", "decoder-stack", "--heads", "4"), 1, "no layers.N.* tensors"},
		{"not a transformer", append(base, "--layer", "transformer", "--heads", "4"), 1, "not an nn.Transformer state_dict"},
		{"no weights", []string{"run", "--layer", "encoder", "--heads", "4", "--input", input, "--output", output}, 2, "--weights is required"},
		{"missing weights", []string{"run", "--device", "cpu", "--layer", "encoder", "--heads", "4",
			"--weights", filepath.Join(dir, "nope.safetensors"), "--input", input, "--output", output}, 1, "no such file"},
		{"missing input", []string{"run", "--device", "cpu", "--layer", "encoder", "--heads", "4",
			"--weights", weights, "--input", filepath.Join(dir, "nope.safetensors"), "--output", output}, 1, "no such file"},
		{"heads do not divide", append(base, "--layer", "encoder", "--heads", "5"), 1, "not divisible"},
		{"wrong layer kind", append(base, "--layer", "decoder", "--heads", "4"), 1, `no tensor "tgt"`},
		{"stack depth", append(base, "--layer", "encoder", "--heads", "4", "--layers", "2"), 1, "hold one layer"},
		{"final norm without stack", append(base, "--layer", "encoder", "--heads", "4", "--final-norm"), 1, "needs a stack"},
		{"unread input", []string{"run", "--device", "cpu", "--layer", "encoder", "--heads", "4",
			"--weights", weights, "--input", extra, "--output", output}, 1, "src_msk"},
		{"key padding masks of two kinds", []string{"run", "--device", "cpu", "--layer", "transformer", "--heads", "4",
			"--weights", trWeights, "--input", mixedPadding, "--output", output}, 1, "key padding masks of two kinds (bool and additive)"},
		{"unwritable output", []string{"run", "--device", "cpu", "--layer", "encoder", "--heads", "4",
			"--weights", weights, "--input", input, "--output", filepath.Join(dir, "no", "such", "dir", "y.safetensors")}, 1, "no such file"},
		{"weights as input", []string{"run", "--device", "cpu", "--layer", "encoder", "--heads", "4",
			"--weights", input, "--input", input, "--output", output}, 1, "self_attn.in_proj_weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(tc.args, &stdout, &stderr)
			require.Equal(t, tc.status, status, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			requireNoTrace(t, stderr.String())
			if tc.status == 1 {
				require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "want one line, got %q", stderr.String())
			}
			_, err := os.Stat(output)
			require.True(t, os.IsNotExist(err), "a failed run wrote %s", output)
		})
	}
}

// TestRunBoolMaskConvention: a BOOL key padding mask in the other convention
// (true = attend) with --bool-mask attend gives the same output, and the wrong
// convention a different one.
func TestRunBoolMaskConvention(t *testing.T) {
	dir := t.TempDir()
	weights, input, f := splitGolden(t, dir, "mha_self_padding")
	in, err := safetensors.ReadFile(input)
	require.NoError(t, err)
	var xs []*safetensors.Tensor
	for _, x := range in.Tensors {
		if x.Name == "key_padding_mask" {
			attend := make([]bool, len(x.Data))
			for i, v := range x.Data {
				attend[i] = v == 0
			}
			x = safetensors.FromBool(x.Name, attend, x.Shape...)
		}
		xs = append(xs, x)
	}
	inverted := filepath.Join(dir, "attend.safetensors")
	require.NoError(t, safetensors.WriteFile(inverted, xs, nil))
	outputs := map[string][]float32{}
	for _, c := range []struct{ name, input, conv string }{
		{"masked", input, "masked"}, {"attend", inverted, "attend"}, {"wrong", inverted, "masked"},
	} {
		output := filepath.Join(dir, c.name+".out.safetensors")
		var stdout, stderr bytes.Buffer
		args := []string{"run", "--device", "cpu", "--layer", "mha", "--heads", f.Metadata["heads"], "--bool-mask", c.conv,
			"--weights", weights, "--input", c.input, "--output", output}
		require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())
		y, err := safetensors.ReadFile(output)
		require.NoError(t, err)
		outputs[c.name], err = y.Tensor("out").Float32s()
		require.NoError(t, err)
	}
	require.Equal(t, outputs["masked"], outputs["attend"])
	require.NotEqual(t, outputs["masked"], outputs["wrong"])
}
