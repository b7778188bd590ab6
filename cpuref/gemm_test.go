package cpuref_test

import (
	"fmt"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

type gemmCase struct {
	batch, m, n, k int
	transA, transB bool
	alpha, beta    float32
	bias, residual bool
	act            backend.Activation
	shareA, shareB bool // batch stride 0
	broadcastB     bool // batch 1
	pad            bool
}

func TestGemm(t *testing.T) {
	cases := []gemmCase{
		{batch: 1, m: 5, n: 7, k: 3},
		{batch: 1, m: 0, n: 4, k: 3},
		{batch: 1, m: 4, n: 0, k: 3},
		{batch: 1, m: 4, n: 3, k: 0, beta: 0.5, bias: true},
		{batch: 1, m: 1, n: 1, k: 1, pad: true},
		{batch: 0, m: 3, n: 3, k: 3},
		{batch: 2, m: 17, n: 33, k: 65, transA: true, pad: true, bias: true, act: backend.ReLU},
		{batch: 3, m: 9, n: 20, k: 31, transB: true, pad: true, alpha: 0.5, beta: -2, residual: true},
		{batch: 3, m: 9, n: 20, k: 31, transA: true, transB: true, pad: true, act: backend.GELU, bias: true, residual: true},
		{batch: 4, m: 6, n: 5, k: 8, shareA: true, broadcastB: true, pad: true},
		{batch: 4, m: 6, n: 5, k: 8, shareB: true, pad: true, beta: 1},
		{batch: 1, m: 130, n: 260, k: 300, pad: true, bias: true, act: backend.ReLU, residual: true},
		{batch: 2, m: 300, n: 129, k: 70, transB: true, bias: true, beta: 0.25},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("%d:%dx%dx%dx%d", ci, c.batch, c.m, c.n, c.k), func(t *testing.T) {
			testGemm(t, c, uint64(ci))
		})
	}
}

func testGemm(t *testing.T, c gemmCase, seed uint64) {
	be := cpuref.New()
	r := newRand(seed)
	ar, ac := c.m, c.k
	if c.transA {
		ar, ac = ac, ar
	}
	br, bc := c.k, c.n
	if c.transB {
		br, bc = bc, br
	}
	aBatch, bBatch := c.batch, c.batch
	if c.shareA {
		aBatch = 1
	}
	if c.shareB || c.broadcastB {
		bBatch = 1
	}
	aHost, aMat := matLayout(uniform(r, aBatch*ar*ac), c.batch, ar, ac, c.pad, c.shareA)
	bViewBatch := c.batch
	if c.broadcastB {
		bViewBatch = 1
	}
	bHost, bMat := matLayout(uniform(r, bBatch*br*bc), bViewBatch, br, bc, c.pad, c.shareB)
	dst0 := uniform(r, c.batch*c.m*c.n)
	if c.beta == 0 {
		dst0 = nans(len(dst0)) // must not be read
	}
	dHost, dMat := matLayout(dst0, c.batch, c.m, c.n, c.pad, false)
	var bias []float32
	opt := backend.GemmOptions{TransA: c.transA, TransB: c.transB, Alpha: c.alpha, Beta: c.beta, Activation: c.act}
	if c.bias {
		bias = uniform(r, c.n)
		opt.Bias = upload(t, be, bias, c.n)
	}
	var resHost padded
	if c.residual {
		var resMat backend.Mat
		resHost, resMat = matLayout(uniform(r, c.batch*c.m*c.n), c.batch, c.m, c.n, c.pad, false)
		resMat.T = upload(t, be, resHost.data, len(resHost.data))
		opt.Residual = &resMat
	}
	aMat.T = upload(t, be, aHost.data, len(aHost.data))
	bMat.T = upload(t, be, bHost.data, len(bHost.data))
	dMat.T = upload(t, be, dHost.data, len(dHost.data))
	noErr(t, be.Gemm(dMat, aMat, bMat, opt))

	truef(t, sameBits(download(t, be, aMat.T), aHost.data), "a changed")
	truef(t, sameBits(download(t, be, bMat.T), bHost.data), "b changed")
	got := download(t, be, dMat.T)
	truef(t, sameBits(dHost.gaps(), padded{data: got, index: dHost.index}.gaps()), "dst padding written")

	// float64 oracle
	alpha := float64(opt.EffectiveAlpha())
	at := func(buf []float32, m backend.Mat, b, i, j int) float64 {
		return float64(buf[m.Offset+m.BatchIndex(b)*m.BatchStride+i*m.RowStride+j])
	}
	ref := make([]float64, 0, c.batch*c.m*c.n)
	for b := range c.batch {
		for i := range c.m {
			for j := range c.n {
				var s float64
				for p := range c.k {
					ai, aj := i, p
					if c.transA {
						ai, aj = p, i
					}
					bi, bj := p, j
					if c.transB {
						bi, bj = j, p
					}
					s += at(aHost.data, aMat, b, ai, aj) * at(bHost.data, bMat, b, bi, bj)
				}
				v := alpha * s
				if c.beta != 0 {
					v += float64(c.beta) * at(dHost.data, dMat, b, i, j)
				}
				if c.bias {
					v += float64(bias[j])
				}
				v = act64(c.act, v)
				if c.residual {
					v += at(resHost.data, *opt.Residual, b, i, j)
				}
				ref = append(ref, v)
			}
		}
	}
	requireClose(t, dHost.gather(got), ref, c.n, "Gemm")
}

func TestGemmInPlace(t *testing.T) {
	// dst = dst*W + dst (residual and a alias dst).
	be := cpuref.New()
	r := newRand(7)
	const m, n = 37, 24
	x := uniform(r, m*n)
	w := uniform(r, n*n)
	xt := upload(t, be, x, m, n)
	wt := upload(t, be, w, n, n)
	xm := backend.MatOf(xt)
	noErr(t, be.Gemm(xm, xm, backend.MatOf(wt), backend.GemmOptions{Residual: &xm}))
	got := download(t, be, xt)
	ref := make([]float64, m*n)
	for i := range m {
		for j := range n {
			s := float64(x[i*n+j])
			for p := range n {
				s += float64(x[i*n+p]) * float64(w[p*n+j])
			}
			ref[i*n+j] = s
		}
	}
	requireClose(t, got, ref, n, "in-place Gemm")
}
