package cpuref

import (
	"math"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref/internal/sgemm"
)

// RMSNorm writes y / sqrt(mean(y^2) + eps) * weight into dst for each row of
// y = x + residual (rounded to float32, and stored into ResidualOut when
// given). The mean square is summed in float64 and each output rounded once.
// Each element of x and the residual is read before the same element of dst or
// ResidualOut is written, so those may alias x or the residual.
func (b *Backend) RMSNorm(dst, x backend.Tensor, opt backend.RMSNormOptions) error {
	const op = "RMSNorm"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckRMSNorm(dst, x, opt)
	if err != nil {
		return err
	}
	var out, in, w, res, resOut []float32
	if err := b.bind(op, binding{"dst", dst, &out}, binding{"x", x, &in}, binding{"weight", opt.Weight, &w},
		binding{"residual", opt.Residual, &res}, binding{"residual out", opt.ResidualOut, &resOut}); err != nil {
		return err
	}
	if d.Cols == 0 {
		return nil
	}
	n, eps := d.Cols, float64(opt.EffectiveEps())
	rowBlocks(d.Rows, blockSize(d.Rows, 8, 64), func(lo, hi int) {
		buf := getBuffer(n)
		defer putBuffer(buf)
		y := *buf
		for r := lo; r < hi; r++ {
			copy(y, in[r*n:(r+1)*n])
			if res != nil {
				addTo(y, res[r*n:(r+1)*n])
			}
			var ss float64
			for _, v := range y {
				ss += float64(v) * float64(v)
			}
			rstd := 1 / math.Sqrt(ss/float64(n)+eps)
			if resOut != nil {
				copy(resOut[r*n:(r+1)*n], y)
			}
			o := out[r*n : (r+1)*n]
			for j, v := range y {
				s := float64(v) * rstd
				if w != nil {
					s *= float64(w[j])
				}
				o[j] = float32(s)
			}
		}
	})
	return nil
}

// Rotary rotates pair i of the first r dimensions of every head by the angle
// p*w_i of the row's position p, w_i = theta^(-2i/r) or opt.InvFreq[i]. The angle, its sine and cosine and
// the rotation are computed in float64 and rounded once, so positions up to
// 2^24 keep full float32 accuracy. dst may be x itself.
func (b *Backend) Rotary(dst, x backend.Heads, opt backend.RotaryOptions) error {
	const op = "Rotary"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckRotary(dst, x, opt)
	if err != nil {
		return err
	}
	var out, in, pos []float32
	if err := b.bind(op, binding{"dst", dst.T, &out}, binding{"x", x.T, &in},
		binding{"positions", opt.Positions, &pos}); err != nil {
		return err
	}
	if d.Batch == 0 || d.Heads == 0 || d.Seq == 0 || d.Dim == 0 {
		return nil
	}
	dv, xv := headsOf(out, dst), headsOf(in, x)
	invFreq := opt.InverseFrequencies(d.Rot)
	half := d.Rot / 2
	rows := d.Batch * d.Seq
	rowBlocks(rows, blockSize(rows, 1, 16), func(lo, hi int) {
		cs, sn := make([]float64, half), make([]float64, half)
		for r := lo; r < hi; r++ {
			bi, s := r/d.Seq, r%d.Seq
			p := float64(opt.Offset + s)
			if pos != nil {
				p = float64(pos[r])
			}
			for i, f := range invFreq {
				sn[i], cs[i] = math.Sincos(p * f)
			}
			for h := range d.Heads {
				rotate(dv.row(bi, h, s), xv.row(bi, h, s), cs, sn, opt.Style)
			}
		}
	})
	return nil
}

// rotate writes the rotated pairs of src into dst (which may be src) and copies
// the dimensions past the rotated ones. cs and sn are the cosine and sine of
// each pair's angle.
func rotate(dst, src []float32, cs, sn []float64, style backend.RotaryStyle) {
	half := len(cs)
	for i := range half {
		a, b := i, i+half
		if style == backend.RotaryGPTJ {
			a, b = 2*i, 2*i+1
		}
		x1, x2 := float64(src[a]), float64(src[b])
		dst[a], dst[b] = float32(x1*cs[i]-x2*sn[i]), float32(x2*cs[i]+x1*sn[i])
	}
	if !sameStorage(dst, src) {
		copy(dst[2*half:], src[2*half:])
	}
}

// GatedFeedForward computes dst = (act(x*Gate^T) * (x*Up^T)) * Down^T (+ residual)
// in chunks of rows, like FeedForward: per chunk two products into the gate and
// up activations, their gated product in place, and the down product with the
// residual as its starting value. Half-precision weights are converted panel by
// panel as sgemm packs them. dst may be x or the residual.
func (b *Backend) GatedFeedForward(dst, x backend.Tensor, w backend.GatedFFNWeights, opt backend.FFNOptions) error {
	const op = "GatedFeedForward"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckGatedFeedForward(dst, x, w, opt)
	if err != nil {
		return err
	}
	var out, in, res []float32
	if err := b.bind(op, binding{"dst", dst, &out}, binding{"x", x, &in}, binding{"residual", opt.Residual, &res}); err != nil {
		return err
	}
	var gate, up, down weight
	for _, p := range []struct {
		name string
		t    backend.Tensor
		w    *weight
	}{{"Gate", w.Gate, &gate}, {"Up", w.Up, &up}, {"Down", w.Down, &down}} {
		if *p.w, err = b.weight(op, p.name, p.t); err != nil {
			return err
		}
		// Weights written through dst would change under later chunks: copy them.
		if sameStorage(p.w.f32, out) {
			p.w.f32 = append([]float32(nil), p.w.f32...)
		}
	}
	if d.Rows == 0 || d.DModel == 0 {
		return nil
	}
	dm, dff := d.DModel, d.DFF
	ldf := max(dff, 1)
	rows := max(ffnChunkFloats/(2*ldf), 1)
	beta := float32(0)
	if res != nil {
		beta = 1
	}
	for lo := 0; lo < d.Rows; lo += rows {
		hi := min(lo+rows, d.Rows)
		n := hi - lo
		buf := getBuffer(2 * n * dff)
		g, u := (*buf)[:n*dff], (*buf)[n*dff:]
		xs := in[lo*dm : hi*dm]
		gate.gemmTransB(n, dff, dm, xs, dm, 0, g, ldf)
		up.gemmTransB(n, dff, dm, xs, dm, 0, u, ldf)
		o := out[lo*dm : hi*dm]
		rowBlocks(n, blockSize(n, 1, 64), func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				gr := g[r*dff : (r+1)*dff]
				biasActivate(gr, nil, opt.Activation)
				for j, v := range u[r*dff : (r+1)*dff] {
					gr[j] *= v
				}
				if res != nil {
					copy(o[r*dm:(r+1)*dm], res[(lo+r)*dm:(lo+r+1)*dm])
				}
			}
		})
		down.gemmTransB(n, dm, dff, g, ldf, beta, o, dm)
		putBuffer(buf)
	}
	return nil
}

// weight is a Linear layer's weight as sgemm reads it: float32 values, or the
// 16-bit patterns of a float16 or bfloat16 tensor.
type weight struct {
	f32  []float32
	half sgemm.Half
}

// weight binds tensor t (float32, float16 or bfloat16) as a weight operand.
func (b *Backend) weight(op, name string, t backend.Tensor) (weight, error) {
	c, err := b.tensor(op, name, t)
	if err != nil {
		return weight{}, err
	}
	if c.dtype == backend.Float32 {
		return weight{f32: c.data}, nil
	}
	return weight{half: sgemm.Half{Bits: c.bits, BFloat16: c.dtype == backend.BFloat16}}, nil
}

// gemmTransB computes c = a * w^T + beta*c for a [m, k] and w [n, k]: up to
// gemvMaxRows rows stream the weights (gemvTransB), more run sgemm.
func (w weight) gemmTransB(m, n, k int, a []float32, lda int, beta float32, c []float32, ldc int) {
	ldb := max(k, 1)
	if m <= gemvMaxRows {
		w.gemvTransB(m, n, k, 1, a, lda, ldb, beta, c, ldc)
		return
	}
	if w.half.Bits != nil {
		sgemm.GemmHalf(false, true, m, n, k, 1, a, lda, w.half, ldb, beta, c, ldc)
		return
	}
	sgemm.Gemm(false, true, m, n, k, 1, a, lda, w.f32, ldb, beta, c, ldc)
}
