package cpuref

import (
	"math"

	"github.com/clattn/clattn/backend"
)

// LayerNorm computes dst = (y - mean(y)) / sqrt(var(y) + eps) * gamma + beta with
// y = x + residual over each row (the last dimension). The statistics are
// two-pass in float64 and the biased variance, as PyTorch; dst may be x or the
// residual.
func (b *Backend) LayerNorm(dst, x backend.Tensor, opt backend.LayerNormOptions) error {
	const op = "LayerNorm"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckLayerNorm(dst, x, opt)
	if err != nil {
		return err
	}
	var ln layerNorm
	if err := b.bind(op, binding{"dst", dst, &ln.dst}, binding{"x", x, &ln.x}, binding{"gamma", opt.Gamma, &ln.gamma},
		binding{"beta", opt.Beta, &ln.beta}, binding{"residual", opt.Residual, &ln.res}); err != nil {
		return err
	}
	if d.Cols == 0 {
		return nil
	}
	ln.n, ln.eps = d.Cols, float64(opt.EffectiveEps())
	rowBlocks(d.Rows, blockSize(d.Rows, 8, 64), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ln.row(r)
		}
	})
	return nil
}

// layerNorm is one validated LayerNorm call; gamma, beta and res may be nil.
type layerNorm struct {
	dst, x, gamma, beta, res []float32
	n                        int
	eps                      float64
}

// row normalises row r. Each element of x and res is read before the same
// element of dst is written, so dst may alias either.
func (ln *layerNorm) row(r int) {
	x := ln.x[r*ln.n : (r+1)*ln.n]
	var res []float32
	if ln.res != nil {
		res = ln.res[r*ln.n : (r+1)*ln.n]
	}
	// y = x + res is rounded to float32, as PyTorch stores it between the
	// residual add and the norm.
	y := func(j int) float64 {
		if res != nil {
			return float64(x[j] + res[j])
		}
		return float64(x[j])
	}
	var sum float64
	for j := range x {
		sum += y(j)
	}
	mean := sum / float64(ln.n)
	var ss float64
	for j := range x {
		c := y(j) - mean
		ss += c * c
	}
	rstd := 1 / math.Sqrt(ss/float64(ln.n)+ln.eps)
	dst := ln.dst[r*ln.n : (r+1)*ln.n]
	for j := range dst {
		v := (y(j) - mean) * rstd
		if ln.gamma != nil {
			v *= float64(ln.gamma[j])
		}
		if ln.beta != nil {
			v += float64(ln.beta[j])
		}
		dst[j] = float32(v)
	}
}
