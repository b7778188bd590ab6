package cpuref

import (
	"math"

	"github.com/clattn/clattn/backend"
)

// PositionalEncoding computes dst = x*scale + PE[start+s] for every sequence of
// dst [..., S, D], or writes PE itself where x is nil, with
// PE(pos, 2i) = sin(pos/10000^(2i/D)) and PE(pos, 2i+1) = cos(pos/10000^(2i/D))
// in float64, rounded once. An odd D ends with a sine column, as PyTorch's.
func (b *Backend) PositionalEncoding(dst, x backend.Tensor, opt backend.PositionalOptions) error {
	const op = "PositionalEncoding"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckPositional(dst, x, opt)
	if err != nil {
		return err
	}
	var dd, xd []float32
	if err := b.bind(op, binding{"dst", dst, &dd}, binding{"x", x, &xd}); err != nil {
		return err
	}
	if d.D == 0 {
		return nil
	}
	scale := float64(opt.InputScale)
	if scale == 0 {
		scale = 1
	}
	// div[c] = 10000^(2i/D) for column c = 2i or 2i+1, as PyTorch's gen.py computes it.
	div := make([]float64, d.D)
	for c := range div {
		div[c] = math.Pow(10000, float64(c&^1)/float64(d.D))
	}
	rows := d.Batch * d.Seq
	rowBlocks(rows, blockSize(rows, 4, 64), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			pos := float64(opt.Start + r%d.Seq)
			out := dd[r*d.D : (r+1)*d.D]
			for c := range out {
				var pe float64
				if c&1 == 0 {
					pe = math.Sin(pos / div[c])
				} else {
					pe = math.Cos(pos / div[c])
				}
				if xd != nil {
					pe += float64(xd[r*d.D+c]) * scale
				}
				out[c] = float32(pe)
			}
		}
	})
	return nil
}
