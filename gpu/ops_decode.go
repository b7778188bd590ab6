package gpu

import (
	"slices"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
)

// decodeAttention runs the fused attention of a checked call with the decode
// kernels (kernels/decode.cl; decode_cpu.cl on CPU devices) as plan p splits it: decode_split writes each
// slice's partial max, sum and output into the device's decode scratch buffer,
// decode_combine merges them into out. The scratch is shared by every call, so
// the two launches are enqueued under decodeMu: the in-order queue then runs each
// call's pair without another call's writes in between.
func (d *Device) decodeAttention(p decodePlan, dims backend.AttentionDims, out, q, k, v backend.Heads, opt backend.AttentionOptions) error {
	const op = "Attention"
	rows := dims.Batch * dims.Heads * dims.SeqQ
	d.decodeMu.Lock()
	defer d.decodeMu.Unlock()
	part, err := d.decodeScratch(op, p.scratchBytes(dims))
	if err != nil {
		return err
	}
	m := maskParamsOf(dims, opt)
	args := slices.Concat(viewArgs(q), viewArgs(k), viewArgs(v), m.masks(),
		[]any{headsOf(dims), dims.Group(), dims.SeqQ, dims.SeqK, dims.DimK, dims.DimV, opt.EffectiveScale(dims.DimK)},
		m.causality(), []any{p.rowBlocks, p.splits, p.sliceLen, part})
	file, kernel := cpuVariant(p.cpu, "decode.cl", "decode_split")
	// Every work-group along dimension 0: NVIDIA allows 65535 along 1 and 2.
	if err := d.launch(launch{
		op: op, file: file, kernel: kernel, options: append(p.options(), kAndVOptions(k.T, v.T)...),
		global:     []int{p.groupsPerSplit * p.splits * p.local},
		local:      []int{p.local},
		fixedLocal: true,
		args:       args,
	}); err != nil {
		return err
	}
	const group = 64
	return d.launch(launch{
		op: op, file: "decode.cl", kernel: "decode_combine",
		global: []int{roundUp(rows*dims.DimV, group)}, local: []int{group},
		args: []any{part, p.splits, rows, headsOf(dims), dims.SeqQ, dims.DimV,
			out.T, out.Offset, out.BatchStride, out.HeadStride, out.SeqStride},
	})
}

// decodeScratch returns the device's decode scratch buffer with room for at
// least size bytes (decodePlanFor bounds it), replacing a smaller one (OpenCL
// frees the old buffer once the kernels queued on it are done). The caller
// holds decodeMu.
func (d *Device) decodeScratch(op string, size int64) (*cl.Mem, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.scratch != nil && int64(d.scratch.Size()) >= size {
		return d.scratch, nil
	}
	m, err := d.drv.createBuffer(d.ctx, int(size))
	if err != nil {
		return nil, d.wrap(op, err)
	}
	if d.scratch != nil {
		_ = d.scratch.Release()
	}
	d.scratch = m
	return m, nil
}
