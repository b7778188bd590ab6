package gpu_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/tolerance"
)

// gemmView describes a strided view (see backend.Mat) with its gaps: the tensor
// holds exactly the elements the view can reach, and every element outside the
// view is NaN, which a correct kernel neither reads into a result nor overwrites.
type gemmView struct {
	batch, rows, cols              int
	offset, batchStride, rowStride int
}

// denseView is a contiguous view of a batch of rows x cols matrices.
func denseView(batch, rows, cols int) gemmView {
	return gemmView{batch: batch, rows: rows, cols: cols, batchStride: rows * cols, rowStride: cols}
}

// gappyView is a view with an offset and gaps after every row and matrix.
func gappyView(batch, rows, cols int) gemmView {
	rs := cols + 3
	return gemmView{batch: batch, rows: rows, cols: cols, offset: 5, batchStride: rows*rs + 2, rowStride: rs}
}

// broadcastView is one rows x cols matrix repeated for every batch index (stride 0).
func broadcastView(batch, rows, cols int) gemmView {
	return gemmView{batch: batch, rows: rows, cols: cols, rowStride: cols}
}

func (v gemmView) size() int {
	if v.batch == 0 || v.rows == 0 || v.cols == 0 {
		return v.offset + 1
	}
	return v.offset + (v.batch-1)*v.batchStride + (v.rows-1)*v.rowStride + v.cols + 2
}

func (v gemmView) at(b, i, j int) int { return v.offset + b*v.batchStride + i*v.rowStride + j }

// fill returns NaN-filled data whose view elements are random in [-1, 1).
func (v gemmView) fill(rng *rand.Rand) []float32 {
	data := make([]float32, v.size())
	for i := range data {
		data[i] = float32(math.NaN())
	}
	for b := range v.batch {
		for i := range v.rows {
			for j := range v.cols {
				data[v.at(b, i, j)] = 2*rng.Float32() - 1
			}
		}
	}
	return data
}

func (v gemmView) mat(t backend.Tensor) backend.Mat {
	return backend.Mat{T: t, Batch: v.batch, Rows: v.rows, Cols: v.cols,
		Offset: v.offset, BatchStride: v.batchStride, RowStride: v.rowStride}
}

type gemmCase struct {
	name     string
	m, n, k  int
	a, b, c  gemmView
	residual *gemmView
	opt      backend.GemmOptions
	bias     bool
	nanDst   bool // dst view starts as NaN (beta must be 0)
}

// newGemmCase sizes contiguous views for dst [batch,m,n] = op(a)*op(b).
func newGemmCase(name string, batch, m, n, k int, opt backend.GemmOptions) gemmCase {
	c := gemmCase{name: name, m: m, n: n, k: k, opt: opt}
	c.a, c.b, c.c = denseView(batch, m, k), denseView(batch, k, n), denseView(batch, m, n)
	if opt.TransA {
		c.a = denseView(batch, k, m)
	}
	if opt.TransB {
		c.b = denseView(batch, n, k)
	}
	return c
}

func gemmCases() []gemmCase {
	// Sizes around the tiles (64: generic; 128: PoCL, NVIDIA), odd ones, and
	// partial tiles of views aligned for vector loads (48, 80, 112).
	var cases []gemmCase
	for _, s := range [][3]int{{0, 3, 4}, {3, 0, 4}, {1, 1, 1}, {7, 5, 3}, {63, 65, 64}, {64, 64, 64}, {65, 127, 129}, {129, 128, 127}, {48, 80, 112}} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			opt := backend.GemmOptions{TransA: tr[0], TransB: tr[1]}
			cases = append(cases, newGemmCase(fmt.Sprintf("m=%d/n=%d/k=%d/ta=%v/tb=%v", s[0], s[1], s[2], tr[0], tr[1]), 1, s[0], s[1], s[2], opt))
		}
	}
	k0 := newGemmCase("k=0/beta/bias", 1, 5, 6, 0, backend.GemmOptions{Beta: 0.5})
	k0.bias = true
	cases = append(cases, k0)

	shared := newGemmCase("batch/broadcast-b", 3, 17, 9, 11, backend.GemmOptions{TransB: true})
	shared.b = gemmView{batch: 1, rows: 9, cols: 11, rowStride: 11}
	cases = append(cases, shared)
	stride0 := newGemmCase("batch/stride0-a", 4, 9, 20, 6, backend.GemmOptions{})
	stride0.a = broadcastView(4, 9, 6)
	cases = append(cases, stride0)

	for _, tr := range [][2]bool{{false, false}, {true, true}} {
		v := newGemmCase(fmt.Sprintf("strided/ta=%v/tb=%v", tr[0], tr[1]), 2, 33, 70, 19, backend.GemmOptions{TransA: tr[0], TransB: tr[1]})
		v.a, v.b, v.c = gappyView(2, v.a.rows, v.a.cols), gappyView(2, v.b.rows, v.b.cols), gappyView(2, 33, 70)
		cases = append(cases, v)
	}

	epi := func(name string, opt backend.GemmOptions, bias, residual bool) gemmCase {
		c := newGemmCase("epilogue/"+name, 2, 37, 66, 45, opt)
		c.c = gappyView(2, 37, 66)
		c.bias = bias
		if residual {
			r := gappyView(2, 37, 66)
			r.offset = 1
			c.residual = &r
		}
		return c
	}
	cases = append(cases,
		epi("alpha-beta", backend.GemmOptions{Alpha: 0.5, Beta: -2}, false, false),
		epi("bias-relu", backend.GemmOptions{Activation: backend.ReLU}, true, false),
		epi("bias-gelu-residual", backend.GemmOptions{Activation: backend.GELU, TransB: true}, true, true),
		epi("all", backend.GemmOptions{Alpha: 1.5, Beta: 0.25, Activation: backend.GELU, TransA: true}, true, true),
	)
	nan := epi("beta0-nan-dst", backend.GemmOptions{Activation: backend.ReLU}, true, true)
	nan.nanDst = true
	cases = append(cases, nan)
	return cases
}

func gemmAct64(a backend.Activation, v float64) float64 {
	switch a {
	case backend.ReLU:
		return math.Max(v, 0)
	case backend.GELU:
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	}
	return v
}

func gemmAct32(a backend.Activation, v float32) float32 {
	return float32(gemmAct64(a, float64(v)))
}

// refGemm returns, for every dst view element in (b, i, j) order, the float64
// oracle and a naive float32 result; dst is the data before the call.
func refGemm(c gemmCase, a, b, dst, bias, res []float32) (ref []float64, naive []float32) {
	alpha, beta := c.opt.EffectiveAlpha(), c.opt.Beta
	opA := func(bt, i, kk int) float32 {
		if c.opt.TransA {
			return a[c.a.at(bt, kk, i)]
		}
		return a[c.a.at(bt, i, kk)]
	}
	opB := func(bt, kk, j int) float32 {
		if c.opt.TransB {
			return b[c.b.at(bt, j, kk)]
		}
		return b[c.b.at(bt, kk, j)]
	}
	idx := func(v gemmView, bt int) int {
		if v.batch == 1 {
			return 0
		}
		return bt
	}
	for bt := range c.c.batch {
		ba, bb := idx(c.a, bt), idx(c.b, bt)
		for i := range c.m {
			for j := range c.n {
				var s64 float64
				var s32 float32
				for kk := range c.k {
					x, y := opA(ba, i, kk), opB(bb, kk, j)
					s64 += float64(x) * float64(y)
					s32 += x * y
				}
				v64, v32 := float64(alpha)*s64, alpha*s32
				if beta != 0 {
					d := dst[c.c.at(bt, i, j)]
					v64 += float64(beta) * float64(d)
					v32 += beta * d
				}
				if c.bias {
					v64 += float64(bias[j])
					v32 += bias[j]
				}
				v64, v32 = gemmAct64(c.opt.Activation, v64), gemmAct32(c.opt.Activation, v32)
				if c.residual != nil {
					r := res[c.residual.at(bt, i, j)]
					v64 += float64(r)
					v32 += r
				}
				ref = append(ref, v64)
				naive = append(naive, v32)
			}
		}
	}
	return ref, naive
}

func gemmUpload(t testing.TB, d *gpu.Device, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := d.Upload(data, shape...)
	gemmNoErr(t, err)
	t.Cleanup(func() { _ = x.Release() })
	return x
}

func TestGemm(t *testing.T) {
	d := gputest.Device(t)
	for ci, c := range gemmCases() {
		t.Run(c.name, func(t *testing.T) { checkGemmCase(t, d, c, uint64(ci)) })
	}
}

func TestGemmErrors(t *testing.T) {
	d := gputest.Device(t)
	x := gemmUpload(t, d, make([]float32, 12), 3, 4)
	bias := gemmUpload(t, d, make([]float32, 5), 5)
	m := backend.MatOf(x)
	err := d.Gemm(m, m, m, backend.GemmOptions{})
	if !errors.Is(err, backend.ErrShape) {
		t.Errorf("3x4 * 3x4: %v", err)
	}
	sq := backend.Mat{T: x, Batch: 1, Rows: 3, Cols: 3, RowStride: 4}
	err = d.Gemm(sq, sq, sq, backend.GemmOptions{Bias: bias})
	if !errors.Is(err, backend.ErrShape) {
		t.Errorf("bias [5] for n=3: %v", err)
	}
	err = d.Gemm(sq, sq, sq, backend.GemmOptions{Activation: 7})
	if !errors.Is(err, backend.ErrArgument) {
		t.Errorf("activation 7: %v", err)
	}
}

// refFeedForward returns the float64 oracle and a naive float32 FeedForward.
func refFeedForward(x, w1, b1, w2, b2, res []float32, rows, dm, dff int, a backend.Activation) ([]float64, []float32) {
	ref := make([]float64, rows*dm)
	naive := make([]float32, rows*dm)
	h64 := make([]float64, dff)
	h32 := make([]float32, dff)
	for r := range rows {
		for f := range dff {
			var s64 float64
			var s32 float32
			for k := range dm {
				s64 += float64(x[r*dm+k]) * float64(w1[f*dm+k])
				s32 += x[r*dm+k] * w1[f*dm+k]
			}
			if b1 != nil {
				s64 += float64(b1[f])
				s32 += b1[f]
			}
			h64[f], h32[f] = gemmAct64(a, s64), gemmAct32(a, s32)
		}
		for c := range dm {
			var s64 float64
			var s32 float32
			for f := range dff {
				s64 += h64[f] * float64(w2[c*dff+f])
				s32 += h32[f] * w2[c*dff+f]
			}
			if b2 != nil {
				s64 += float64(b2[c])
				s32 += b2[c]
			}
			if res != nil {
				s64 += float64(res[r*dm+c])
				s32 += res[r*dm+c]
			}
			ref[r*dm+c], naive[r*dm+c] = s64, s32
		}
	}
	return ref, naive
}

func TestFeedForward(t *testing.T) {
	d := gputest.Device(t)
	cases := []struct {
		name            string
		batch, seq      int
		dm, dff         int
		act             backend.Activation
		biases, residue bool
		inPlace         bool // dst is x (and x the residual)
	}{
		{"relu/residual/fused-size", 2, 5, 24, 70, backend.ReLU, true, true, false},
		{"gelu/residual/gemm-size", 3, 50, 33, 65, backend.GELU, true, true, false},
		{"relu/nil-biases", 1, 9, 16, 40, backend.ReLU, false, false, false},
		{"gelu/nil-biases/large-rows", 1, 70, 17, 31, backend.GELU, false, true, false},
		{"identity/d_ff=0/fused-size", 1, 3, 8, 0, backend.Identity, true, true, false},
		{"identity/d_ff=0/gemm-size", 2, 40, 8, 0, backend.Identity, true, true, false},
		{"relu/in-place/fused-size", 1, 7, 20, 36, backend.ReLU, true, true, true},
		{"gelu/in-place/gemm-size", 1, 90, 20, 36, backend.GELU, true, true, true},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 11))
			rows := c.batch * c.seq
			rnd := func(n int) []float32 { return denseView(1, 1, n).fill(rng)[:n] }
			hx, hw1, hw2 := rnd(rows*c.dm), rnd(c.dff*c.dm), rnd(c.dm*c.dff)
			x := gemmUpload(t, d, hx, c.batch, c.seq, c.dm)
			w := backend.FFNWeights{W1: gemmUpload(t, d, hw1, c.dff, c.dm), W2: gemmUpload(t, d, hw2, c.dm, c.dff)}
			var hb1, hb2, hres []float32
			if c.biases {
				hb1, hb2 = rnd(c.dff), rnd(c.dm)
				w.B1, w.B2 = gemmUpload(t, d, hb1, c.dff), gemmUpload(t, d, hb2, c.dm)
			}
			opt := backend.FFNOptions{Activation: c.act}
			if c.residue {
				hres = rnd(rows * c.dm)
				opt.Residual = gemmUpload(t, d, hres, c.batch, c.seq, c.dm)
			}
			dst := gemmUpload(t, d, make([]float32, rows*c.dm), c.batch, c.seq, c.dm)
			if c.inPlace {
				hres, opt.Residual, dst = hx, x, x
			}
			gemmNoErr(t, d.FeedForward(dst, x, w, opt))
			got := make([]float32, rows*c.dm)
			gemmNoErr(t, d.Download(got, dst))
			ref, naive := refFeedForward(hx, hw1, hb1, hw2, hb2, hres, rows, c.dm, c.dff, c.act)
			r := tolerance.CheckRows(got, ref, naive, c.dm)
			if !r.OK() {
				t.Fatalf("%s: %v", c.name, r)
			}
		})
	}
}

func BenchmarkGemm(b *testing.B) {
	d := gputest.Device(b)
	for _, s := range [][3]int{{1024, 1024, 1024}} {
		m, n, k := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("m=%d/n=%d/k=%d", m, n, k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			ta := gemmUpload(b, d, denseView(1, m, k).fill(rng)[:m*k], m, k)
			tb := gemmUpload(b, d, denseView(1, k, n).fill(rng)[:k*n], k, n)
			tc := gemmUpload(b, d, make([]float32, m*n), m, n)
			out := make([]float32, 1)
			one := gemmUpload(b, d, out, 1)
			run := func() {
				gemmNoErr(b, d.Gemm(backend.MatOf(tc), backend.MatOf(ta), backend.MatOf(tb), backend.GemmOptions{}))
				gemmNoErr(b, d.Download(out, one)) // waits for the queue
			}
			run() // builds the program
			for b.Loop() {
				run()
			}
			b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func gemmNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
