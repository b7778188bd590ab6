package cpuref_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

func TestLayerNorm(t *testing.T) {
	cases := []struct {
		rows, cols                int
		gamma, beta, res, inPlace bool
		eps                       float32
	}{
		{rows: 0, cols: 4},
		{rows: 3, cols: 1, gamma: true, beta: true},
		{rows: 1, cols: 7},
		{rows: 5, cols: 33, gamma: true, beta: true, res: true},
		{rows: 130, cols: 512, gamma: true, beta: true, res: true, inPlace: true, eps: 1e-6},
		{rows: 9, cols: 64, res: true, inPlace: true},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("%d:%+v", ci, c), func(t *testing.T) {
			be := cpuref.New()
			r := newRand(uint64(ci))
			x := uniform(r, c.rows*c.cols)
			for i := range x {
				x[i] = 10 + 3*x[i] // a large mean tests the two-pass variance
			}
			opt := backend.LayerNormOptions{Eps: c.eps}
			var gamma, beta, res []float32
			if c.gamma {
				gamma = uniform(r, c.cols)
				opt.Gamma = upload(t, be, gamma, c.cols)
			}
			if c.beta {
				beta = uniform(r, c.cols)
				opt.Beta = upload(t, be, beta, c.cols)
			}
			if c.res {
				res = uniform(r, c.rows*c.cols)
				opt.Residual = upload(t, be, res, c.rows, c.cols)
			}
			xt := upload(t, be, x, c.rows, c.cols)
			dst := xt
			if !c.inPlace {
				dst = upload(t, be, nans(len(x)), c.rows, c.cols)
			}
			noErr(t, be.LayerNorm(dst, xt, opt))
			if !c.inPlace {
				truef(t, sameBits(download(t, be, xt), x), "x changed")
			}
			eps := float64(opt.EffectiveEps())
			ref := make([]float64, len(x))
			y := make([]float64, c.cols)
			for i := range c.rows {
				var mean, vr float64
				for j := range y {
					y[j] = float64(x[i*c.cols+j])
					if res != nil {
						y[j] = float64(x[i*c.cols+j] + res[i*c.cols+j])
					}
					mean += y[j]
				}
				mean /= float64(c.cols)
				for _, v := range y {
					vr += (v - mean) * (v - mean)
				}
				vr /= float64(c.cols)
				for j, v := range y {
					o := (v - mean) / math.Sqrt(vr+eps)
					if gamma != nil {
						o *= float64(gamma[j])
					}
					if beta != nil {
						o += float64(beta[j])
					}
					ref[i*c.cols+j] = o
				}
			}
			requireClose(t, download(t, be, dst), ref, c.cols, "LayerNorm")
		})
	}
}

func TestFeedForward(t *testing.T) {
	cases := []struct {
		rows, dm, dff        int
		act                  backend.Activation
		b1, b2, res, inPlace bool
	}{
		{rows: 0, dm: 4, dff: 8, act: backend.ReLU},
		{rows: 1, dm: 1, dff: 1, b1: true, b2: true},
		{rows: 3, dm: 5, dff: 0, b2: true, res: true},
		{rows: 37, dm: 24, dff: 96, act: backend.ReLU, b1: true, b2: true, res: true},
		{rows: 70, dm: 64, dff: 300, act: backend.GELU, b1: true, res: true, inPlace: true},
		{rows: 200, dm: 128, dff: 512, act: backend.ReLU, b2: true},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("%d:%+v", ci, c), func(t *testing.T) {
			be := cpuref.New()
			r := newRand(uint64(ci))
			x := uniform(r, c.rows*c.dm)
			w1, w2 := uniform(r, c.dff*c.dm), uniform(r, c.dm*c.dff)
			w := backend.FFNWeights{W1: upload(t, be, w1, c.dff, c.dm), W2: upload(t, be, w2, c.dm, c.dff)}
			var b1, b2, res []float32
			opt := backend.FFNOptions{Activation: c.act}
			if c.b1 {
				b1 = uniform(r, c.dff)
				w.B1 = upload(t, be, b1, c.dff)
			}
			if c.b2 {
				b2 = uniform(r, c.dm)
				w.B2 = upload(t, be, b2, c.dm)
			}
			xt := upload(t, be, x, c.rows, c.dm)
			if c.res {
				res = uniform(r, len(x))
				if c.inPlace {
					res = x
					opt.Residual = xt
				} else {
					opt.Residual = upload(t, be, res, c.rows, c.dm)
				}
			}
			dst := xt
			if !c.inPlace {
				dst = upload(t, be, nans(len(x)), c.rows, c.dm)
			}
			noErr(t, be.FeedForward(dst, xt, w, opt))
			if !c.inPlace {
				truef(t, sameBits(download(t, be, xt), x), "x changed")
			}
			ref := make([]float64, len(x))
			hidden := make([]float64, c.dff)
			for i := range c.rows {
				for f := range c.dff {
					var s float64
					for j := range c.dm {
						s += float64(x[i*c.dm+j]) * float64(w1[f*c.dm+j])
					}
					if b1 != nil {
						s += float64(b1[f])
					}
					hidden[f] = act64(c.act, s)
				}
				for j := range c.dm {
					var s float64
					for f := range c.dff {
						s += hidden[f] * float64(w2[j*c.dff+f])
					}
					if b2 != nil {
						s += float64(b2[j])
					}
					if res != nil {
						s += float64(res[i*c.dm+j])
					}
					ref[i*c.dm+j] = s
				}
			}
			requireClose(t, download(t, be, dst), ref, c.dm, "FeedForward")
		})
	}
}

func TestPositionalEncoding(t *testing.T) {
	cases := []struct {
		batch, seq, d, start int
		x                    bool
		scale                float32
	}{
		{batch: 1, seq: 50, d: 64},
		{batch: 1, seq: 3, d: 1},
		{batch: 1, seq: 7, d: 9, start: 5},
		{batch: 2, seq: 20, d: 16, start: 3, x: true, scale: 4},
		{batch: 3, seq: 1, d: 7, x: true},
		{batch: 1, seq: 0, d: 8},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("%d:%+v", ci, c), func(t *testing.T) {
			be := cpuref.New()
			r := newRand(uint64(ci))
			n := c.batch * c.seq * c.d
			shape := []int{c.seq, c.d}
			if c.batch > 1 {
				shape = []int{c.batch, c.seq, c.d}
			}
			var x []float32
			var xt backend.Tensor
			if c.x {
				x = uniform(r, n)
				xt = upload(t, be, x, shape...)
			}
			dst := upload(t, be, nans(n), shape...)
			noErr(t, be.PositionalEncoding(dst, xt, backend.PositionalOptions{Start: c.start, InputScale: c.scale}))
			scale := float64(c.scale)
			if scale == 0 {
				scale = 1
			}
			ref := make([]float64, n)
			for b := range c.batch {
				for s := range c.seq {
					pos := float64(c.start + s)
					for j := range c.d {
						ang := pos / math.Pow(10000, float64(j-j%2)/float64(c.d))
						v := math.Sin(ang)
						if j%2 == 1 {
							v = math.Cos(ang)
						}
						at := (b*c.seq+s)*c.d + j
						if x != nil {
							v += scale * float64(x[at])
						}
						ref[at] = v
					}
				}
			}
			got := download(t, be, dst)
			for i := range ref {
				// float64 formula rounded once: exact to the last bit.
				truef(t, got[i] == float32(ref[i]), "element %d: got %v, want %v", i, got[i], float32(ref[i]))
			}
		})
	}
}

// foreign is a Tensor of no backend.
type foreign struct{}

func (foreign) Shape() backend.Shape { return backend.Shape{2, 2} }
func (foreign) Release() error       { return nil }

func TestErrors(t *testing.T) {
	be := cpuref.New()
	x := upload(t, be, make([]float32, 4), 2, 2)
	y := upload(t, be, make([]float32, 4), 2, 2)
	other := cpuref.New()
	z := upload(t, other, make([]float32, 4), 2, 2)
	released := upload(t, be, make([]float32, 4), 2, 2)
	noErr(t, released.Release())
	noErr(t, released.Release())

	gemm := func(a backend.Tensor) error {
		return be.Gemm(backend.MatOf(x), backend.MatOf(a), backend.MatOf(y), backend.GemmOptions{})
	}
	ln := func(a backend.Tensor) error { return be.LayerNorm(x, a, backend.LayerNormOptions{}) }
	for name, err := range map[string]struct {
		got, want error
	}{
		"gemm foreign":   {gemm(foreign{}), backend.ErrForeignTensor},
		"gemm other":     {gemm(z), backend.ErrForeignTensor},
		"gemm released":  {gemm(released), backend.ErrReleased},
		"ln other":       {ln(z), backend.ErrForeignTensor},
		"gemm shape":     {be.Gemm(backend.MatOf(x), backend.MatOf(x), backend.MatOf(upload(t, be, make([]float32, 6), 3, 2)), backend.GemmOptions{}), backend.ErrShape},
		"ln eps":         {be.LayerNorm(x, y, backend.LayerNormOptions{Eps: -1}), backend.ErrArgument},
		"download":       {be.Download(make([]float32, 3), x), backend.ErrShape},
		"upload":         {func() error { _, err := be.Upload(make([]float32, 3), 2, 2); return err }(), backend.ErrShape},
		"alloc":          {func() error { _, err := be.Alloc(2, -1); return err }(), backend.ErrShape},
		"download other": {be.Download(make([]float32, 4), z), backend.ErrForeignTensor},
	} {
		truef(t, errors.Is(err.got, err.want), "%s: got %v, want %v", name, err.got, err.want)
	}

	noErr(t, be.Close())
	noErr(t, be.Close())
	truef(t, errors.Is(ln(y), backend.ErrReleased), "LayerNorm after Close")
	truef(t, errors.Is(be.Download(make([]float32, 4), x), backend.ErrReleased), "Download after Close")
	_, err := be.Alloc(1)
	truef(t, errors.Is(err, backend.ErrReleased), "Alloc after Close: %v", err)
	truef(t, be.Name() == "cpu", "Name")
}
