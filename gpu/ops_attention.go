package gpu

import (
	"slices"
	"strconv"

	"github.com/clattn/clattn/backend"
)

// Scores computes dst[b,h] = scale * q[b,h] * k[b,h/group]^T with attn_bmm
// (kernels/bmm.cl; bmm_cpu.cl on CPU devices); k may be float16.
func (d *Device) Scores(dst backend.Tensor, q, k backend.Heads, scale float32) error {
	const op = "Scores"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckScores(dst, q, k)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst, q.T, k.T); err != nil {
		return err
	}
	return d.scoresWith(d.attentionConfig(), dims, dst, q, k, scale)
}

// scoresWith launches the Scores product of config c for a checked call.
func (d *Device) scoresWith(c attentionConfig, dims backend.AttentionDims, dst backend.Tensor, q, k backend.Heads, scale float32) error {
	scale = backend.AttentionOptions{Scale: scale}.EffectiveScale(dims.DimK)
	heads := headsOf(dims)
	return d.launchBmm("Scores", c, true, false, k.T, dims, dims.SeqQ, dims.SeqK, dims.DimK,
		slices.Concat(viewArgs(q), viewArgs(k), denseArgs(dst, heads, dims.SeqQ, dims.SeqK)),
		scale)
}

// AttendValues computes out[b,h] = weights[b,h] * v[b,h/group] with attn_bmm,
// skipping values whose weight is exactly 0; v may be float16.
func (d *Device) AttendValues(out backend.Heads, weights backend.Tensor, v backend.Heads) error {
	const op = "AttendValues"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckAttendValues(out, weights, v)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, out.T, weights, v.T); err != nil {
		return err
	}
	return d.attendValuesWith(d.attentionConfig(), dims, out, weights, v)
}

// attendValuesWith launches the AttendValues product of config c for a checked call.
func (d *Device) attendValuesWith(c attentionConfig, dims backend.AttentionDims, out backend.Heads, weights backend.Tensor, v backend.Heads) error {
	heads := headsOf(dims)
	return d.launchBmm("AttendValues", c, false, true, v.T, dims, dims.SeqQ, dims.DimV, dims.SeqK,
		slices.Concat(denseArgs(weights, heads, dims.SeqQ, dims.SeqK), viewArgs(v), viewArgs(out)),
		1)
}

// launchBmm runs attn_bmm (bmm.cl; attn_bmm_cpu, bmm_cpu.cl, on CPU devices) of config c for every
// (batch, head): an m x n result over depth k. bNK and skipZero select the
// Scores and AttendValues variants; views holds the three (tensor, offset,
// batch, head, row strides) groups; kv is the B operand (K or V), whose head
// h/group serves query head h and whose dtype selects the build.
func (d *Device) launchBmm(op string, c attentionConfig, bNK, skipZero bool, kv backend.Tensor, dims backend.AttentionDims, m, n, k int, views []any, alpha float32) error {
	file, kernel := cpuVariant(c.CPU, "bmm.cl", "attn_bmm")
	wx, wy := c.TN/c.RN, c.TM/c.RM
	args := append(views, headsOf(dims), dims.Group(), m, n, k, alpha)
	return d.launch(launch{
		op: op, file: file, kernel: kernel, options: append(c.bmmOptions(bNK, skipZero), kvOptions(kv)...),
		global:     []int{ceilDiv(n, c.TN) * wx, ceilDiv(m, c.TM) * wy, dims.Batch * dims.Heads},
		local:      []int{wx, wy, 1},
		fixedLocal: true,
		args:       args,
	})
}

// Softmax applies the masks of opt to scores and normalises each row into dst
// with attn_softmax, one work-group per row, or on CPU devices with
// attn_softmax_cpu, one work-item per row and no barriers.
func (d *Device) Softmax(dst, scores backend.Tensor, opt backend.AttentionOptions) error {
	const op = "Softmax"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckSoftmax(dst, scores, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst, scores, opt.Mask, opt.KeyPadding); err != nil {
		return err
	}
	return d.softmaxWith(d.attentionConfig(), dims, dst, scores, opt)
}

// softmaxWith launches the softmax kernel of config c for a checked call.
func (d *Device) softmaxWith(c attentionConfig, dims backend.AttentionDims, dst, scores backend.Tensor, opt backend.AttentionOptions) error {
	const op = "Softmax"
	if dims.SeqK == 0 {
		return nil
	}
	rows := dims.Batch * dims.Heads * dims.SeqQ
	m := maskParamsOf(dims, opt)
	args := slices.Concat([]any{dst, scores, rows, headsOf(dims), dims.SeqQ, dims.SeqK}, m.masks(), m.causality())
	options := []string{"-DSM_WG=" + strconv.Itoa(c.SoftmaxGroup)}
	file, kernel := cpuVariant(c.CPU, "softmax.cl", "attn_softmax")
	if c.CPU {
		return d.launch(launch{
			op: op, file: file, kernel: kernel, options: options,
			global: []int{roundUp(rows, c.SoftmaxGroup)}, local: []int{c.SoftmaxGroup},
			args: args,
		})
	}
	// One work-group per row, the rows along dimension 0: NVIDIA's OpenCL allows
	// at most 65535 work-groups along dimensions 1 and 2.
	return d.launch(launch{
		op: op, file: file, kernel: kernel, options: options,
		global:     []int{c.SoftmaxGroup * rows},
		local:      []int{c.SoftmaxGroup},
		fixedLocal: true,
		args:       args,
	})
}

// Attention is the fused softmax(scale*q*k^T + masks)*v (kernels/flash.cl on
// GPUs, flash_cpu.cl on CPUs): an online softmax over key tiles that never
// stores the Sq x Sk matrix.
func (d *Device) Attention(out, q, k, v backend.Heads, opt backend.AttentionOptions) error {
	const op = "Attention"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckAttention(out, q, k, v, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, out.T, q.T, k.T, v.T, opt.Mask, opt.KeyPadding); err != nil {
		return err
	}
	return d.attentionWith(d.attentionConfig(), dims, out, q, k, v, opt)
}

// attentionWith launches the fused kernel of config c for a checked call.
func (d *Device) attentionWith(c attentionConfig, dims backend.AttentionDims, out, q, k, v backend.Heads, opt backend.AttentionOptions) error {
	const op = "Attention"
	if dims.Batch*dims.Heads*dims.SeqQ*dims.DimV == 0 {
		return nil
	}
	if useDecode(dims) {
		if p, err := decodePlanFor(c, d.info, dims); err == nil {
			return d.decodeAttention(p, dims, out, q, k, v, opt)
		}
		// Head dims the decode kernel cannot hold here take the prefill kernel.
	}
	fk, err := c.fusedFor(d.info, dims.DimK, dims.DimV)
	if err != nil {
		return backend.ArgumentErrorf(op, "%v on %s; use Scores, Softmax and AttendValues", err, d.name)
	}
	m := maskParamsOf(dims, opt)
	args := slices.Concat(viewArgs(q), viewArgs(k), viewArgs(v), viewArgs(out), m.masks(),
		[]any{headsOf(dims), dims.Group(), dims.SeqQ, dims.SeqK, dims.DimK, dims.DimV, opt.EffectiveScale(dims.DimK)}, m.causality())
	return d.launch(launch{
		op: op, file: fk.file, kernel: fk.kernel, options: append(fk.options, kAndVOptions(k.T, v.T)...),
		global:     []int{ceilDiv(dims.SeqQ, fk.rows) * fk.local[0], dims.Batch * dims.Heads * fk.local[1]},
		local:      fk.local,
		fixedLocal: true,
		args:       args,
	})
}

// maskParams are the mask arguments of attn_softmax and flash_attention, as
// the kernels take them.
type maskParams struct {
	mask                    backend.Tensor
	kind                    int // 0 none, 1 boolean, 2 additive
	batchStride, headStride int
	padding                 backend.Tensor
	hasPad                  int
	causal, causalOffset    int // key j is out for query i where causal and j > i + causalOffset
}

func maskParamsOf(dims backend.AttentionDims, opt backend.AttentionOptions) maskParams {
	m := maskParams{mask: opt.Mask, batchStride: dims.Mask.BatchStride, headStride: dims.Mask.HeadStride, padding: opt.KeyPadding}
	if opt.Mask != nil {
		m.kind = 1
		if opt.MaskKind == backend.MaskAdditive {
			m.kind = 2
		}
	}
	if opt.KeyPadding != nil {
		m.hasPad = 1
	}
	switch opt.Causal {
	case backend.CausalTopLeft:
		m.causal = 1
	case backend.CausalBottomRight:
		m.causal, m.causalOffset = 1, dims.SeqK-dims.SeqQ
	}
	return m
}

// masks are the arguments mask, maskKind, maskB, maskH, pad, hasPad.
func (m maskParams) masks() []any {
	return []any{m.mask, m.kind, m.batchStride, m.headStride, m.padding, m.hasPad}
}

// causality are the arguments causal, causalOffset.
func (m maskParams) causality() []any { return []any{m.causal, m.causalOffset} }

// viewArgs are a strided [B, H, S, D] view as attn_bmm and flash_attention
// take it: buffer, offset, batch, head and row strides.
func viewArgs(h backend.Heads) []any {
	return []any{h.T, h.Offset, h.BatchStride, h.HeadStride, h.SeqStride}
}

// denseArgs are a contiguous [B, heads, rows, cols] tensor (scores, weights)
// as viewArgs gives a view.
func denseArgs(t backend.Tensor, heads, rows, cols int) []any {
	return []any{t, 0, heads * rows * cols, rows * cols, cols}
}

// headsOf is the head count, at least 1 so that kernels may divide by it.
func headsOf(dims backend.AttentionDims) int { return max(dims.Heads, 1) }
