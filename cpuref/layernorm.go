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
	ln.all(d.Rows)
	return nil
}

// fusedNorm binds the Norm of a Gemm or FeedForward: LayerNorm of the rows of
// cols values of dst in place, with norm's gamma, beta and eps; nil without
// one. The caller has checked norm (backend.CheckGemm, CheckFeedForward).
func (b *Backend) fusedNorm(op string, dst []float32, cols int, norm *backend.LayerNormOptions) (*layerNorm, error) {
	if norm == nil {
		return nil, nil
	}
	ln := &layerNorm{dst: dst, x: dst, n: cols, eps: float64(norm.EffectiveEps())}
	if err := b.bind(op, binding{"Norm.Gamma", norm.Gamma, &ln.gamma}, binding{"Norm.Beta", norm.Beta, &ln.beta}); err != nil {
		return nil, err
	}
	return ln, nil
}

// all normalises rows [0, rows) on every core.
func (ln *layerNorm) all(rows int) { rowBlocks(rows, blockSize(rows, 8, 64), ln.rows) }

// rows normalises rows [lo, hi).
func (ln *layerNorm) rows(lo, hi int) {
	for r := lo; r < hi; r++ {
		ln.row(r)
	}
}

// layerNorm is one validated LayerNorm call; gamma, beta and res may be nil.
type layerNorm struct {
	dst, x, gamma, beta, res []float32
	n                        int
	eps                      float64
}

// row normalises row r. Each element of x and res is read before the same
// element of dst is written, so dst may alias either. The loops are plain
// slices (no per-element closure or branch): LayerNorm runs twice per encoder
// layer, on every token.
func (ln *layerNorm) row(r int) {
	lo, hi := r*ln.n, (r+1)*ln.n
	dst := ln.dst[lo:hi]
	y := ln.x[lo:hi]
	if ln.res != nil {
		// y = x + res is rounded to float32, as PyTorch stores it between the
		// residual add and the norm; it is kept in dst until the last pass.
		res := ln.res[lo:hi]
		for j, v := range y {
			dst[j] = v + res[j]
		}
		y = dst
	}
	mean := rowSum(y) / float64(ln.n)
	rstd := 1 / math.Sqrt(rowSqDev(y, mean)/float64(ln.n)+ln.eps)
	switch {
	case ln.gamma != nil && ln.beta != nil:
		normAffine(dst, y, ln.gamma[:len(y)], ln.beta[:len(y)], mean, rstd)
	default:
		for j, v := range y {
			t := (float64(v) - mean) * rstd
			if ln.gamma != nil {
				t *= float64(ln.gamma[j])
			}
			if ln.beta != nil {
				t += float64(ln.beta[j])
			}
			dst[j] = float32(t)
		}
	}
}

// normAffineGeneric sets dst[j] = (y[j] - mean) * rstd * gamma[j] + beta[j] in
// float64, rounded once; dst may be y.
func normAffineGeneric(dst, y, gamma, beta []float32, mean, rstd float64) {
	for j, v := range y {
		dst[j] = float32((float64(v)-mean)*rstd*float64(gamma[j]) + float64(beta[j]))
	}
}
