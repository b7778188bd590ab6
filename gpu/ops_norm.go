package gpu

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
)

// LayerNorm normalises each row of x (+ opt.Residual) into dst with the
// layer_norm kernel, one work-group per row, or on CPU devices layer_norm_rows,
// one work-item per row with no barriers (PoCL runs a work-group as a loop over
// its work-items, so a group reduction costs more than it saves) where there
// are rows enough to give every core a group of them.
func (d *Device) LayerNorm(dst, x backend.Tensor, opt backend.LayerNormOptions) error {
	const op = "LayerNorm"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
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
		return d.launch(launch{
			op: op, file: "layernorm.cl", kernel: "layer_norm_rows", options: []string{fmt.Sprintf("-DGROUP_SUM_LANES=%d", groupSumLanes)},
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
// barrier-free row kernels (layer_norm_rows, attn_softmax_rows) takes on CPU
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

// PositionalEncoding computes dst = x*opt.InputScale + PE with the
// positional_encoding kernel (x nil: dst = PE).
func (d *Device) PositionalEncoding(dst, x backend.Tensor, opt backend.PositionalOptions) error {
	const op = "PositionalEncoding"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckPositional(dst, x, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst, x); err != nil {
		return err
	}
	n := dims.Batch * dims.Seq * dims.D
	if n == 0 {
		return nil
	}
	if opt.Start+dims.Seq > 1<<24 {
		return backend.ArgumentErrorf(op, "positions up to %d are not exact in float32 (limit %d)", opt.Start+dims.Seq, 1<<24)
	}
	freq, err := d.frequencies(dims.D)
	if err != nil {
		return d.wrap(op, fmt.Errorf("kernel positional_encoding (posenc.cl): frequency table: %w", err))
	}
	scale := opt.InputScale
	if scale == 0 {
		scale = 1
	}
	hasX := 0
	if x != nil && asTensor(x) != nil {
		hasX = 1
	}
	const group = 64
	return d.launch(launch{
		op: op, file: "posenc.cl", kernel: "positional_encoding",
		global: []int{roundUp(n, group)}, local: []int{group},
		args: []any{dst, x, freq, n, dims.Seq, dims.D, opt.Start, scale, hasX},
	})
}

// frequencies returns the device buffer of w_i = 10000^(-2i/d) as float32
// hi+lo pairs computed in float64, cached per width d.
func (d *Device) frequencies(width int) (*cl.Mem, error) {
	d.mu.Lock()
	m := d.freqs[width]
	d.mu.Unlock()
	if m != nil {
		return m, nil
	}
	pairs := (width + 1) / 2
	table := make([]float32, 2*pairs)
	for i := range pairs {
		w := math.Pow(10000, -float64(2*i)/float64(width))
		hi := float32(w)
		table[2*i], table[2*i+1] = hi, float32(w-float64(hi))
	}
	m, err := d.drv.createBuffer(d.ctx, 4*len(table))
	if err != nil {
		return nil, err
	}
	if err := d.drv.write(d.queue, m, table); err != nil {
		_ = m.Release()
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.freqs[width]; old != nil {
		_ = m.Release()
		m = old
	} else {
		d.freqs[width] = m
	}
	return m, nil
}
