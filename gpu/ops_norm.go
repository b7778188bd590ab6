package gpu

import (
	"fmt"
	"math/bits"

	"github.com/clattn/clattn/backend"
)

// LayerNorm normalises each row of x (+ opt.Residual) into dst with the
// layer_norm kernel, one work-group per row, or on CPU devices layer_norm_cpu,
// one work-item per row with no barriers (PoCL runs a work-group as a loop over
// its work-items, so a group reduction costs more than it saves) where there
// are rows enough to give every core a group of them.
func (d *Device) LayerNorm(dst, x backend.Tensor, opt backend.LayerNormOptions) error {
	const op = "LayerNorm"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	return d.layerNorm(op, dst, x, opt)
}

// layerNorm is LayerNorm inside a public call (enter held): also the Norm of
// a Gemm or FeedForward, run in place on its dst after the product (op names
// the caller in errors).
func (d *Device) layerNorm(op string, dst, x backend.Tensor, opt backend.LayerNormOptions) error {
	dims, err := backend.CheckLayerNorm(dst, x, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst, x, opt.Gamma, opt.Beta, opt.Residual); err != nil {
		return err
	}
	if dims.Rows == 0 || dims.Cols == 0 {
		return nil
	}
	flag := func(t backend.Tensor) int {
		if t == nil || asTensor(t) == nil {
			return 0
		}
		return 1
	}
	if d.profile.CPUKernels && dims.Rows >= cpuRowsPerGroup*max(d.info.ComputeUnits, 1) {
		file, kernel := cpuVariant(true, "layernorm.cl", "layer_norm")
		return d.launch(launch{
			op: op, file: file, kernel: kernel,
			global: []int{roundUp(dims.Rows, cpuRowsPerGroup)}, local: []int{cpuRowsPerGroup},
			args: []any{dst, x, opt.Residual, opt.Gamma, opt.Beta, dims.Rows, dims.Cols, opt.EffectiveEps(),
				flag(opt.Residual), flag(opt.Gamma), flag(opt.Beta)},
		})
	}
	group := d.rowGroup(dims.Cols)
	return d.launch(launch{
		op: op, file: "layernorm.cl", kernel: "layer_norm", options: []string{fmt.Sprintf("-DGROUP_SUM_LANES=%d", groupSumLanes)},
		global: []int{dims.Rows, group}, local: []int{1, group}, // rows along dimension 0: no 65535 limit
		args: []any{dst, x, opt.Residual, opt.Gamma, opt.Beta, dims.Cols, opt.EffectiveEps(),
			flag(opt.Residual), flag(opt.Gamma), flag(opt.Beta), localBytes(4 * (group + groupSumLanes))},
	})
}

// cpuRowsPerGroup is how many rows (one per work-item) a work-group of the
// barrier-free row kernels (layer_norm_cpu, attn_softmax_cpu) takes on CPU
// devices: enough to amortise PoCL's per-group cost, few enough to spread a
// small batch over the cores.
const cpuRowsPerGroup = 4

// groupSumLanes is how many work-items of a row group add partial sums in
// layernorm.cl's group_sum.
const groupSumLanes = 16

// rowGroup is the work-group size for a row of cols elements: a power of two,
// at most 256 and the device's limit, and no larger than cols needs.
func (d *Device) rowGroup(cols int) int {
	limit := min(256, d.info.MaxWorkGroupSize)
	if len(d.info.MaxWorkItemSizes) > 1 {
		limit = min(limit, d.info.MaxWorkItemSizes[1]) // the row group runs along dimension 1
	}
	limit = max(limit, 1)
	limit = 1 << (bits.Len(uint(limit)) - 1)
	g := 1
	for g < cols && g < limit {
		g *= 2
	}
	return g
}
