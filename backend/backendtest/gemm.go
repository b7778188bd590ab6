package backendtest

import (
	"fmt"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
)

// broadcast says how an operand of a batched Gemm is shared by the batch.
type broadcast int

const (
	perBatch   broadcast = iota
	batchOne             // Mat.Batch == 1
	strideZero           // Mat.Batch == dst.Batch, BatchStride == 0
)

type gemmCase struct {
	batch, m, n, k int
	transA, transB bool
	aShare, bShare broadcast
	// gaps lays every matrix out with NaN-filled gaps between rows and batches.
	gaps        bool
	alpha, beta float32
	bias        bool
	act         backend.Activation
	residual    bool
	// bType is the dtype of b (the weights).
	bType backend.DType
	short bool
}

func (c gemmCase) name() string {
	s := fmt.Sprintf("b=%d,m=%d,n=%d,k=%d,tA=%v,tB=%v", c.batch, c.m, c.n, c.k, c.transA, c.transB)
	shares := [...]string{"", "batch1", "stride0"}
	if c.aShare != perBatch {
		s += ",a=" + shares[c.aShare]
	}
	if c.bShare != perBatch {
		s += ",b=" + shares[c.bShare]
	}
	if c.gaps {
		s += ",gaps"
	}
	if c.alpha != 0 {
		s += fmt.Sprintf(",alpha=%g", c.alpha)
	}
	if c.beta != 0 {
		s += fmt.Sprintf(",beta=%g", c.beta)
	}
	if c.bias {
		s += ",bias"
	}
	if c.act != backend.Identity {
		s += ",act=" + c.act.String()
	}
	if c.residual {
		s += ",residual"
	}
	if c.bType != backend.Float32 {
		s += ",b=" + c.bType.String()
	}
	return s
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	for _, sh := range []struct {
		batch, m, n, k int
		short          bool
	}{{1, 7, 16, 3, true}, {1, 65, 63, 129, false}, {3, 33, 80, 59, true},
		// Around 128-wide tiles, and partial tiles of views aligned for vector loads.
		{1, 129, 128, 127, false}, {1, 48, 80, 112, false}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				cs = append(cs, gemmCase{batch: sh.batch, m: sh.m, n: sh.n, k: sh.k, transA: ta, transB: tb, short: sh.short})
			}
		}
	}
	return append(cs,
		gemmCase{batch: 1, m: 1, n: 1, k: 1, short: true},
		gemmCase{batch: 1, m: 128, n: 128, k: 128},
		gemmCase{batch: 1, m: 257, n: 24, k: 8, transB: true},
		gemmCase{batch: 1, m: 1, n: 147, k: 64, transB: true, short: true},
		gemmCase{batch: 1, m: 239, n: 1, k: 1},
		// Batched with a shared operand (a weight matrix, say).
		gemmCase{batch: 4, m: 17, n: 24, k: 40, transB: true, bShare: batchOne, short: true},
		gemmCase{batch: 3, m: 9, n: 32, k: 16, transA: true, aShare: strideZero},
		// Strided views with NaN gaps, which must stay NaN.
		gemmCase{batch: 2, m: 20, n: 30, k: 40, transA: true, gaps: true, beta: 0.5, bias: true, residual: true, short: true},
		gemmCase{batch: 3, m: 65, n: 64, k: 24, transB: true, gaps: true, bShare: strideZero},
		// Epilogues. dst is NaN-filled wherever beta == 0: it must not be read.
		gemmCase{batch: 2, m: 31, n: 48, k: 59, alpha: 0.5, short: true},
		gemmCase{batch: 2, m: 31, n: 48, k: 59, beta: 0.75, bias: true},
		gemmCase{batch: 2, m: 31, n: 48, k: 59, bias: true, act: backend.ReLU, short: true},
		gemmCase{batch: 2, m: 31, n: 48, k: 59, transB: true, bias: true, act: backend.GELU, residual: true, short: true},
		gemmCase{batch: 2, m: 64, n: 80, k: 24, alpha: -1.5, beta: 1, bias: true, act: backend.GELU, residual: true, gaps: true},
		gemmCase{batch: 1, m: 33, n: 40, k: 128, transA: true, transB: true, act: backend.ReLU, residual: true, bShare: batchOne},
	)
}

// mat lays out a batch of rows x cols matrices, filled by next, and returns the
// whole buffer, its view (without tensor) and the tensor's shape.
func mat(batch, rows, cols int, gaps bool, share broadcast, next func() float32) ([]float32, backend.Mat, []int) {
	phys := batch
	if share != perBatch {
		phys = 1
	}
	m := backend.Mat{Batch: batch, Rows: rows, Cols: cols, RowStride: cols}
	tail := 0
	if gaps {
		m.RowStride, m.Offset, tail = cols+3, 7, 4
	}
	bs := rows * m.RowStride
	if gaps {
		bs += 5
	}
	m.BatchStride = bs
	switch share {
	case batchOne:
		m.Batch = 1
	case strideZero:
		m.BatchStride = 0
	}
	size := m.Offset + phys*bs + tail
	var buf []float32
	shape := []int{rows, cols}
	switch {
	case gaps:
		buf, shape = filled(size, nan32), []int{size}
	case phys > 1:
		buf, shape = make([]float32, size), []int{phys, rows, cols}
	default:
		buf = make([]float32, size)
	}
	for b := range phys {
		for i := range rows {
			for j := range cols {
				buf[m.Offset+b*bs+i*m.RowStride+j] = next()
			}
		}
	}
	return buf, m, shape
}

func (s *suite) testGemm(t tester) {
	for _, c := range gemmCases() {
		if !s.full && !c.short {
			continue
		}
		t.Run(c.name(), func(t tester) { s.runGemm(t, c) })
	}
}

func (s *suite) runGemm(t tester, c gemmCase) {
	e := s.env(t)
	rnd := func() float32 { return 2*e.rng.Float32() - 1 }
	g := &oracle.Gemm{Batch: c.batch, M: c.m, N: c.n, K: c.k, Opt: backend.GemmOptions{
		TransA: c.transA, TransB: c.transB, Alpha: c.alpha, Beta: c.beta, Activation: c.act}}
	ar, ac := c.m, c.k
	if c.transA {
		ar, ac = ac, ar
	}
	br, bc := c.k, c.n
	if c.transB {
		br, bc = bc, br
	}
	var shape []int
	g.A, g.AV, shape = mat(c.batch, ar, ac, c.gaps, c.aShare, rnd)
	g.AV.T = e.input("a", g.A, shape...)
	g.B, g.BV, shape = mat(c.batch, br, bc, c.gaps, c.bShare, rnd)
	g.BV.T = e.inputAs("b", c.bType, roundTo(c.bType, g.B), shape...)
	old := rnd
	if c.beta == 0 {
		old = func() float32 { return nan32 }
	}
	var dstShape []int
	g.Dst, g.DV, dstShape = mat(c.batch, c.m, c.n, c.gaps, perBatch, old)
	if c.bias {
		g.Bias = e.uniform(c.n, -1, 1)
		g.Opt.Bias = e.input("bias", g.Bias, c.n)
	}
	if c.residual {
		g.Res, g.RV, shape = mat(c.batch, c.m, c.n, c.gaps, perBatch, rnd)
		g.RV.T = e.input("residual", g.Res, shape...)
		g.Opt.Residual = &g.RV
	}
	ref, naive := g.Run()

	inView := make([]bool, len(g.Dst))
	for b := range c.batch {
		for i := range c.m {
			for j := range c.n {
				inView[g.DV.Offset+b*g.DV.BatchStride+i*g.DV.RowStride+j] = true
			}
		}
	}
	var outs [2][]float32
	for r := range outs {
		dv := g.DV
		dv.T = e.upload(g.Dst, dstShape...)
		e.must("Gemm", e.b.Gemm(dv, g.AV, g.BV, g.Opt))
		buf := e.download(dv.T)
		got := make([]float32, 0, len(ref))
		for b := range c.batch {
			for i := range c.m {
				got = append(got, buf[dv.Offset+b*dv.BatchStride+i*dv.RowStride:][:c.n]...)
			}
		}
		for i, in := range inView {
			if !in && firstBitDiff(buf[i:i+1], g.Dst[i:i+1]) == 0 {
				t.Errorf("Gemm wrote element %d of dst %v, outside its view (got %g)", i, backend.Shape(dstShape), buf[i])
				break
			}
		}
		outs[r] = got
	}
	e.checkSame("Gemm", outs[0], outs[1])
	e.checkRows("Gemm", outs[0], ref, naive, c.n)
	e.checkInputs()
}
