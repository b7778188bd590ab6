package gpu

import "github.com/clattn/clattn/backend"

// WriteKV copies the float32 heads src [B,Hkv,n,D] into positions [pos, pos+n)
// of the cache [B,Hkv,Cap,D] (float32, or float16 rounded to nearest even) with
// write_kv (kernels/kvcache.cl), leaving every other position as it was
// (CheckWriteKV refuses a src that views the cache itself).
func (d *Device) WriteKV(cache backend.Tensor, src backend.Heads, pos int) error {
	const op = "WriteKV"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckWriteKV(cache, src, pos)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, cache, src.T); err != nil {
		return err
	}
	total := dims.Batch * dims.Heads * dims.N * dims.Dim
	if total == 0 {
		return nil
	}
	const group = 64
	return d.launch(launch{
		op: op, file: "kvcache.cl", kernel: "write_kv", options: kvOptions(cache),
		global: []int{roundUp(total, group)}, local: []int{group},
		args: []any{cache, dims.Heads, dims.Cap, dims.Dim, pos, dims.N,
			src.T, src.Offset, src.BatchStride, src.HeadStride, src.SeqStride, total},
	})
}

// kvOptions are the build options of a kernel whose one K-or-V operand is t:
// -DKV_HALF for a float16 tensor (common.cl).
func kvOptions(t backend.Tensor) []string { return halfOption("KV_HALF", t) }

// kAndVOptions are the build options of a kernel reading keys k and values v:
// -DK_HALF and -DV_HALF for float16 ones (common.cl).
func kAndVOptions(k, v backend.Tensor) []string {
	return append(halfOption("K_HALF", k), halfOption("V_HALF", v)...)
}

// halfOption is -Dname where t is a float16 tensor.
func halfOption(name string, t backend.Tensor) []string {
	if t != nil && t.DType() == backend.Float16 {
		return []string{"-D" + name}
	}
	return nil
}
