// Package kernels holds clattn's OpenCL C sources, embedded in the binary as FS
// and built at run time for the chosen device by package gpu.
//
// Each file's header comment documents its kernels. The files and kernels:
//
//	common.cl     not a kernel: activations, mask_score (every mask kind in one
//	              place), nan_max, hsum16; Source puts it before every file.
//	smoke.cl      vec_add: c = a + b; the smoke test of a device (gpu.Device.Smoke, `gpubench`).
//	layernorm.cl  layer_norm: LayerNorm of each row with a fused residual add, one
//	              work-group per row, two-pass (shifted) variance, optional gamma and
//	              beta; layer_norm_rows: the same, one row per work-item, for CPU devices.
//	posenc.cl     positional_encoding: dst = x*scale + sinusoidal PE, with the angle
//	              carried in two floats so long sequences stay within tolerance.
//	gemm.cl       gemm: batched, strided SGEMM with a fused bias, activation and
//	              residual epilogue (backend.Gemm).
//	ffn.cl        ffn_fused: the position-wise feed-forward network in one kernel,
//	              the hidden activations kept in local memory (backend.FeedForward).
//	attention.cl  attn_bmm: the batched q*k^T and weights*v products; attn_softmax:
//	              masked, normalised attention weights (Scores, Softmax, AttendValues);
//	              attn_bmm_cpu and attn_softmax_rows: the same, shaped for CPU devices.
//	flash.cl      flash_attention: fused attention with an online softmax (Attention).
//	flash_cpu.cl  flash_attention_cpu: the same, shaped for CPU devices such as PoCL.
//
// The kernels use exp, sin and cos (never native_*) and are built without
// -cl-fast-relaxed-math.
package kernels

import "embed"

// FS holds every *.cl file of this folder.
//
//go:embed *.cl
var FS embed.FS

// Source is the program text of a kernel file: common.cl, the definitions every
// file shares (activations, masks, NaN-propagating max), then the file, with a
// #line directive so that compiler messages name the file's own lines.
func Source(file string) (string, error) {
	common, err := FS.ReadFile("common.cl")
	if err != nil {
		return "", err
	}
	src, err := FS.ReadFile(file)
	if err != nil {
		return "", err
	}
	return string(common) + "\n#line 1 \"" + file + "\"\n" + string(src), nil
}
