package gpu

import "github.com/clattn/clattn/backend"

// AttentionGPUTiles runs Attention with the fused kernel and tiling that NVIDIA
// GPUs get (flash.cl), so that tests on a CPU device check that kernel too.
func (d *Device) AttentionGPUTiles(out, q, k, v backend.Heads, opt backend.AttentionOptions) error {
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
	return d.attentionWith(attentionConfigNVIDIA, dims, out, q, k, v, opt)
}

// UnfusedGPUTiles runs Scores into weights, Softmax in place and AttendValues
// with the kernels and tiling that NVIDIA GPUs get (attn_bmm, attn_softmax), so
// that tests on a CPU device check those kernels too.
func (d *Device) UnfusedGPUTiles(out, q, k, v backend.Heads, weights backend.Tensor, opt backend.AttentionOptions) error {
	const op = "UnfusedGPUTiles"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckScores(weights, q, k)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, out.T, q.T, k.T, v.T, weights, opt.Mask, opt.KeyPadding); err != nil {
		return err
	}
	if err := d.scoresWith(attentionConfigNVIDIA, dims, weights, q, k, opt.Scale); err != nil {
		return err
	}
	if dims, err = backend.CheckSoftmax(weights, weights, opt); err != nil {
		return err
	}
	if err := d.softmaxWith(attentionConfigNVIDIA, dims, weights, weights, opt); err != nil {
		return err
	}
	if dims, err = backend.CheckAttendValues(out, weights, v); err != nil {
		return err
	}
	return d.attendValuesWith(attentionConfigNVIDIA, dims, out, weights, v)
}
