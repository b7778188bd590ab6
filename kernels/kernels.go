// Package kernels holds clattn's OpenCL C sources, embedded in the binary as FS
// and built at run time for the chosen device by package gpu.
//
// Each file's header comment documents its kernels. A kernel shaped for CPU
// devices (PoCL runs a work-group as a loop over its work-items, so these use
// no barriers and wide vectors) is the kernel of the same name with _cpu, in
// the file of the same name with _cpu, reading and writing the same buffers and
// giving the same results (only launch-shape parameters, such as a row count or
// local scratch, may differ); the device's profile (gpu.Profile.CPUKernels)
// picks one. The
// files and kernels:
//
//	common.cl          not a kernel: activations, mask_score (every mask kind in
//	                   one place), nan_max, hsum16, the K/V element types (float or
//	                   half, read with vload_half), reduced_angle (a position's angle
//	                   in two floats); Source puts it before every file.
//	smoke.cl           vec_add: c = a + b; the smoke test of a device (gpu.Device.Smoke, `gpubench`).
//	layernorm.cl       layer_norm: LayerNorm of each row with a fused residual add,
//	                   one work-group per row, two-pass (shifted) variance, optional
//	                   gamma and beta; rms_norm: RMSNorm (Llama), the same way.
//	layernorm_cpu.cl   layer_norm_cpu, rms_norm_cpu: the same, one row per work-item.
//	posenc.cl          positional_encoding: dst = x*scale + sinusoidal PE, with the
//	                   angle carried in two floats so long sequences stay within tolerance.
//	rope.cl            rotary: the rotary position embedding (neox or gptj pairs,
//	                   partial rotary dim, per-row positions, the host's float64
//	                   frequency table: theta's or a scaled one), angles in two floats.
//	gemm.cl            gemm: batched, strided SGEMM with a fused bias, activation and
//	                   residual epilogue (backend.Gemm).
//	ffn.cl             ffn_fused: the position-wise feed-forward network in one
//	                   kernel, the hidden activations kept in local memory
//	                   (backend.FeedForward for few rows on CPU devices; it has no
//	                   GPU twin: GPUs run two GEMMs).
//	gemv.cl            gemv_rows, gated_hidden: products of a few rows (decoding)
//	                   with float, half or bfloat16 weights, each weight read once
//	                   (Gemm's and GatedFeedForward's few-row paths on CPU devices; no
//	                   GPU twin: GPUs run GEMMs); gated_product joins the GEMM path's
//	                   gate and up activations.
//	bmm.cl             attn_bmm: the batched q*k^T and weights*v products of unfused
//	                   attention (Scores, AttendValues).
//	bmm_cpu.cl         attn_bmm_cpu: the same.
//	softmax.cl         attn_softmax: masked, normalised attention weights (Softmax).
//	softmax_cpu.cl     attn_softmax_cpu: the same.
//	flash.cl           flash_attention: fused attention with an online softmax (Attention).
//	flash_cpu.cl       flash_attention_cpu: the same.
//	decode.cl          decode_split, decode_combine: flash-decoding for a few query
//	                   rows against many keys, split over work-groups (Attention).
//	decode_cpu.cl      decode_split_cpu: the same split.
//	kvcache.cl         write_kv: rows written into a float32 or half KV cache (WriteKV).
//	bandwidth.cl       stream_read: one read of a large buffer (gpu.Device.ReadBandwidth).
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
