package gpu

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// RMSNorm writes y / sqrt(mean(y^2) + eps) * weight into dst for each row of
// y = x + opt.Residual (and y into opt.ResidualOut), with layernorm.cl's
// rms_norm, one work-group per row, or on CPU devices rms_norm_cpu, one row
// per work-item, by the same rule as LayerNorm.
func (d *Device) RMSNorm(dst, x backend.Tensor, opt backend.RMSNormOptions) error {
	const op = "RMSNorm"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckRMSNorm(dst, x, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst, x, opt.Weight, opt.Residual, opt.ResidualOut); err != nil {
		return err
	}
	if dims.Rows == 0 || dims.Cols == 0 {
		return nil
	}
	options := []string{fmt.Sprintf("-DGROUP_SUM_LANES=%d", groupSumLanes)}
	flags := []any{present(opt.Residual), present(opt.ResidualOut), present(opt.Weight)}
	if d.profile.CPUKernels && dims.Rows >= cpuRowsPerGroup*max(d.info.ComputeUnits, 1) {
		file, kernel := cpuVariant(true, "layernorm.cl", "rms_norm")
		return d.launch(launch{
			op: op, file: file, kernel: kernel,
			global: []int{roundUp(dims.Rows, cpuRowsPerGroup)}, local: []int{cpuRowsPerGroup},
			args: append([]any{dst, x, opt.Residual, opt.ResidualOut, opt.Weight, dims.Rows, dims.Cols, opt.EffectiveEps()}, flags...),
		})
	}
	group := d.rowGroup(dims.Cols)
	return d.launch(launch{
		op: op, file: "layernorm.cl", kernel: "rms_norm", options: options,
		global: []int{dims.Rows, group}, local: []int{1, group},
		args: append(append([]any{dst, x, opt.Residual, opt.ResidualOut, opt.Weight, dims.Cols, opt.EffectiveEps()}, flags...),
			localBytes(4*(group+groupSumLanes))),
	})
}

// present is 1 for a tensor argument that is given, 0 for nil.
func present(t backend.Tensor) int {
	if t == nil || asTensor(t) == nil {
		return 0
	}
	return 1
}

// Rotary applies the rotary position embedding with rope.cl's rotary, one
// work-item per position, pair (and passed-through dimension) and block of
// heads: on a CPU device one block of all the heads, so that each angle's sine
// and cosine are computed once a position (40 times fewer for a Llama-3.2-1B
// decoding step's query and key heads), on a GPU one head, for parallelism. The
// angle is carried in two floats from the float64 frequencies
// (opt.InverseFrequencies: InvFreq or theta's), cached on the device per table.
func (d *Device) Rotary(dst, x backend.Heads, opt backend.RotaryOptions) error {
	const op = "Rotary"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckRotary(dst, x, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst.T, x.T, opt.Positions); err != nil {
		return err
	}
	// The heads a work-item turns (rope.cl's HEAD_BLOCK: 0 for all of them).
	headBlock, blocks := 1, dims.Heads
	if d.profile.CPUKernels {
		headBlock, blocks = 0, min(dims.Heads, 1)
	}
	rows := dims.Batch * dims.Seq * blocks
	half := dims.Rot / 2
	slots := half + dims.Dim - dims.Rot
	if rows == 0 || slots == 0 {
		return nil
	}
	if rows > (1<<31-1)/slots {
		return backend.ShapeErrorf(op, "x %s has more pairs than a cl_int indexes", x.Dims())
	}
	freq, err := d.frequencyTable(opt.InverseFrequencies(dims.Rot))
	if err != nil {
		return d.wrap(op, fmt.Errorf("kernel rotary (rope.cl): frequency table: %w", err))
	}
	const group = 64
	return d.launch(launch{
		op: op, file: "rope.cl", kernel: "rotary", options: []string{fmt.Sprintf("-DHEAD_BLOCK=%d", headBlock)},
		global: []int{roundUp(rows*slots, group)}, local: []int{group},
		args: []any{dst.T, x.T, freq, opt.Positions, present(opt.Positions), opt.Offset,
			intFlag(opt.Style == backend.RotaryGPTJ), rows * slots, dims.Heads, dims.Seq, dims.Dim, half, slots,
			x.Offset, x.BatchStride, x.HeadStride, x.SeqStride,
			dst.Offset, dst.BatchStride, dst.HeadStride, dst.SeqStride},
	})
}

// GatedFeedForward computes dst = (act(x Gate^T) * (x Up^T)) Down^T (+ residual).
//
// Path rule: on a CPU device (PoCL), up to gemvMaxRows rows (decoding a token
// or a few per sequence) run gemv.cl's gated_hidden and gemv_rows, one
// work-item per output feature, so each weight element is read once, streamed
// in 16-lane vectors with a prefetch ahead (bench/README.md has the rates).
// Otherwise three GEMMs (the gate's with the activation fused) with
// gated_product between them; GPUs take them at every size, as gemv.cl's
// work-items would read the weight rows uncoalesced there.
func (d *Device) GatedFeedForward(dst, x backend.Tensor, w backend.GatedFFNWeights, opt backend.FFNOptions) error {
	const op = "GatedFeedForward"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckGatedFeedForward(dst, x, w, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst, x, w.Gate, w.Up, w.Down, opt.Residual); err != nil {
		return err
	}
	if dims.Rows == 0 || dims.DModel == 0 {
		return nil
	}
	rows := backend.Mat{T: dst, Batch: 1, Rows: dims.Rows, Cols: dims.DModel, RowStride: dims.DModel}
	var res *backend.Mat
	if opt.Residual != nil {
		r := rows
		r.T = opt.Residual
		res = &r
	}
	if dims.DFF == 0 {
		// No hidden units: dst = residual (or 0), a GEMM with K = 0.
		empty := backend.Mat{T: x, Batch: 1, Rows: dims.Rows}
		return d.gemm(op, rows, empty, backend.MatOf(w.Down), backend.GemmOptions{TransB: true, Residual: res})
	}
	hidden, err := d.newTensor(op, []int{dims.Rows, dims.DFF}, false)
	if err != nil {
		return err
	}
	// Release does not wait: OpenCL frees the buffer once the queued kernels are done.
	defer hidden.Release()
	if d.profile.CPUKernels && dims.Rows <= gemvMaxRows {
		const group = 64
		if err := d.launch(launch{
			op: op, file: "gemv.cl", kernel: "gated_hidden", options: gemvOptions(dims.Rows, w.Gate.DType()),
			global: []int{roundUp(dims.DFF, group)}, local: []int{group},
			args: []any{dims.Rows, dims.DModel, dims.DFF, x, w.Gate, w.Up, activationCode(opt.Activation), hidden},
		}); err != nil {
			return err
		}
		return d.gemvRows(op, backend.GemmDims{Batch: 1, M: dims.Rows, N: dims.DModel, K: dims.DFF},
			rows, backend.MatOf(hidden), backend.MatOf(w.Down), backend.GemmOptions{TransB: true, Residual: res})
	}
	up, err := d.newTensor(op, []int{dims.Rows, dims.DFF}, false)
	if err != nil {
		return err
	}
	defer up.Release()
	in := rows
	in.T = x
	h, u := backend.MatOf(hidden), backend.MatOf(up)
	if err := d.gemm(op, h, in, backend.MatOf(w.Gate), backend.GemmOptions{TransB: true, Activation: opt.Activation}); err != nil {
		return err
	}
	if err := d.gemm(op, u, in, backend.MatOf(w.Up), backend.GemmOptions{TransB: true}); err != nil {
		return err
	}
	n := dims.Rows * dims.DFF
	const group = 64
	if err := d.launch(launch{
		op: op, file: "gemv.cl", kernel: "gated_product", options: gemvOptions(1, backend.Float32),
		global: []int{roundUp(n, group)}, local: []int{group},
		args: []any{hidden, up, n},
	}); err != nil {
		return err
	}
	return d.gemm(op, rows, h, backend.MatOf(w.Down), backend.GemmOptions{TransB: true, Residual: res})
}
