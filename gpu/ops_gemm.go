package gpu

import "github.com/clattn/clattn/backend"

// Activation codes shared with the kernels (common.cl's ACT_*).
const (
	actIdentity = 0
	actRelu     = 1
	actGelu     = 2
	actSilu     = 3
)

func activationCode(a backend.Activation) int {
	switch a {
	case backend.ReLU:
		return actRelu
	case backend.GELU:
		return actGelu
	case backend.SiLU:
		return actSilu
	}
	return actIdentity
}

// Gemm computes dst = act(alpha*op(a)*op(b) + beta*dst + bias) + residual for every
// matrix of the batch (backend.GemmOptions) with kernels/gemm.cl, tiled as
// gemmConfigSized chooses for this device (its Tuning) and shape. dst must not
// overlap a or b; the residual may be dst itself. opt.Norm runs LayerNorm's
// kernel over dst after the product.
func (d *Device) Gemm(dst, a, b backend.Mat, opt backend.GemmOptions) error {
	const op = "Gemm"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	return d.gemm(op, dst, a, b, opt)
}

// gemm is Gemm inside a public call (enter held); op names the caller in errors.
func (d *Device) gemm(op string, dst, a, b backend.Mat, opt backend.GemmOptions) error {
	dims, err := backend.CheckGemm(dst, a, b, opt)
	if err != nil {
		return err
	}
	var res backend.Mat
	if opt.Residual != nil {
		res = *opt.Residual
	}
	var norm backend.LayerNormOptions
	if opt.Norm != nil {
		norm = *opt.Norm
	}
	if err := d.checkTensors(op, dst.T, a.T, b.T, opt.Bias, res.T, norm.Gamma, norm.Beta); err != nil {
		return err
	}
	if dims.Batch == 0 || dims.M == 0 || dims.N == 0 {
		return nil
	}
	if d.gemvRowsFits(dims, b, opt) {
		err = d.gemvRows(op, dims, dst, a, b, opt)
	} else {
		err = d.launchGemm(op, gemmConfigSized(d.gemmTiling(), d.profile, d.info, dims), dims, dst, a, b, opt)
	}
	if err != nil || opt.Norm == nil {
		return err
	}
	// The norm is LayerNorm's kernel over dst, queued after the product.
	return d.layerNorm(op, dst.T, dst.T, norm)
}

// launchGemm runs kernels/gemm.cl tiled as c for a checked, non-empty product.
func (d *Device) launchGemm(op string, c gemmConfig, dims backend.GemmDims, dst, a, b backend.Mat, opt backend.GemmOptions) error {
	var res backend.Mat
	if opt.Residual != nil {
		res = *opt.Residual
	}
	x, y := c.localSize()
	return d.launch(launch{
		op:      op,
		file:    "gemm.cl",
		kernel:  "gemm",
		options: append(c.options(), weightOptions(b.T)...),
		global:  []int{ceilDiv(dims.N, c.TN) * x, ceilDiv(dims.M, c.TM) * y, dims.Batch},
		local:   []int{x, y, 1},
		// gemm.cl requires its work-group shape (reqd_work_group_size).
		fixedLocal: true,
		args: []any{
			dims.M, dims.N, dims.K, intFlag(opt.TransA), intFlag(opt.TransB),
			opt.EffectiveAlpha(), opt.Beta,
			a.T, a.Offset, matBatchStride(a), a.RowStride,
			b.T, b.Offset, matBatchStride(b), b.RowStride,
			dst.T, dst.Offset, matBatchStride(dst), dst.RowStride,
			opt.Bias, intFlag(opt.Bias != nil), activationCode(opt.Activation),
			res.T, res.Offset, matBatchStride(res), res.RowStride, intFlag(opt.Residual != nil),
			intFlag(c.vectorLoads(a)), intFlag(c.vectorLoads(b)),
		},
	})
}

func matBatchStride(m backend.Mat) int {
	if m.Batch <= 1 {
		return 0
	}
	return m.BatchStride
}

func intFlag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// weightOptions are the gemm.cl build options for a B operand of t's dtype:
// -DB_HALF for float16, -DB_BF16 for bfloat16 weights.
func weightOptions(t backend.Tensor) []string {
	switch t.DType() {
	case backend.Float16:
		return []string{"-DB_HALF"}
	case backend.BFloat16:
		return []string{"-DB_BF16"}
	}
	return nil
}
