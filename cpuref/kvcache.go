package cpuref

import "github.com/clattn/clattn/backend"

// WriteKV copies the float32 heads src [B,Hkv,n,D] into positions [pos, pos+n)
// of cache [B,Hkv,Cap,D] (float32, or float16 rounded to nearest even); the
// rest of the cache is untouched.
func (b *Backend) WriteKV(cache backend.Tensor, src backend.Heads, pos int) error {
	const op = "WriteKV"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckWriteKV(cache, src, pos)
	if err != nil {
		return err
	}
	c, err := b.tensor(op, "cache", cache)
	if err != nil {
		return err
	}
	sd, err := b.data(op, "src", src.T)
	if err != nil {
		return err
	}
	if d.N == 0 || d.Dim == 0 {
		return nil
	}
	sv := headsOf(sd, src)
	parallelFor(d.Batch*d.Heads, func(bh int) {
		bi, h := bh/d.Heads, bh%d.Heads
		for i := range d.N {
			at := ((bi*d.Heads+h)*d.Cap + d.Pos + i) * d.Dim
			row := sv.row(bi, h, i)
			if c.dtype == backend.Float32 {
				copy(c.data[at:at+d.Dim], row)
			} else {
				backend.EncodeBits(c.bits[at:at+d.Dim], row, c.dtype)
			}
		}
	})
	return nil
}
