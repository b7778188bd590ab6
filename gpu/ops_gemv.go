package gpu

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// gemvMaxRows is the most rows the row-streaming products of kernels/gemv.cl
// take (gemvRows); RB, their row block, is the row count itself.
const gemvMaxRows = 8

// gemvRowsFits is the path rule of Gemm's few-row product: on a CPU device
// (PoCL), one matrix (batch 1) of at most gemvMaxRows rows times a transposed
// half-precision B (a decoder's weights, as checkpoints store them) with beta 0
// takes gemv_rows, which reads each weight once; the tiled GEMM computes a
// 64-row tile for each row there (one token through Llama-3.2-1B's 2048 x
// 8192 projection took 550 ms on PoCL's tiled GEMM, over 20x the streamed
// product). Float32 weights keep the tiled GEMM, whose rows come out bit for
// bit the same whatever the number of rows (a padded batch's rows equal the
// rows alone); so do GPUs, whose work-items would read the weight rows
// uncoalesced.
func (d *Device) gemvRowsFits(dims backend.GemmDims, b backend.Mat, opt backend.GemmOptions) bool {
	return d.profile.CPUKernels && dims.Batch == 1 && dims.M <= gemvMaxRows && opt.TransB && !opt.TransA &&
		opt.Beta == 0 && b.T.DType() != backend.Float32
}

// gemvRows launches gemv_rows: dst = act(alpha * a * b^T + bias) + residual for
// a checked product of dims.M <= gemvMaxRows rows.
func (d *Device) gemvRows(op string, dims backend.GemmDims, dst, a, b backend.Mat, opt backend.GemmOptions) error {
	var res backend.Mat
	if opt.Residual != nil {
		res = *opt.Residual
	}
	const group = 64
	return d.launch(launch{
		op: op, file: "gemv.cl", kernel: "gemv_rows", options: gemvOptions(dims.M, b.T.DType()),
		global: []int{roundUp(dims.N, group)}, local: []int{group},
		args: []any{dims.M, dims.N, dims.K, opt.EffectiveAlpha(),
			a.T, a.Offset, a.RowStride, b.T, b.Offset, b.RowStride,
			opt.Bias, intFlag(opt.Bias != nil), activationCode(opt.Activation),
			res.T, res.Offset, res.RowStride, intFlag(opt.Residual != nil),
			dst.T, dst.Offset, dst.RowStride},
	})
}

// gemvOptions are gemv.cl's build options for rows rows of weights of dtype w:
// RB (the row block: the row count, so the loops unroll with no test of a
// shorter block, which made one row 10x slower on PoCL) and WDTYPE.
func gemvOptions(rows int, w backend.DType) []string {
	code := 0
	switch w {
	case backend.Float16:
		code = 1
	case backend.BFloat16:
		code = 2
	}
	return []string{fmt.Sprintf("-DRB=%d", max(1, min(rows, gemvMaxRows))), fmt.Sprintf("-DWDTYPE=%d", code)}
}
