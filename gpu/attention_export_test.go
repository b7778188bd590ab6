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
