package cpuref

import (
	"runtime"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref/internal/sgemm"
)

// batchParallelMACs is the largest product (m*n*k multiply-adds) that a batched
// Gemm runs on one core per matrix; larger products use every core each.
const batchParallelMACs = 1 << 22

// Gemm computes dst = act(alpha*op(a)*op(b) + beta*dst + bias) + residual for
// every matrix of the batch (see backend.GemmOptions); dst may be the residual,
// not A, B or the bias (package backend, "Aliasing").
// A float16 or bfloat16 b is converted panel by panel inside the product; a
// few rows (at most gemvMaxRows) times a transposed half b stream it instead.
// A batch of small products runs one product per core; larger ones use every
// core on each product in turn. One float32 product of many rows (a layer's
// projection) shares chunks of rows out between the cores, each with its
// epilogue and its rows' opt.Norm (see runRows).
func (b *Backend) Gemm(dst, a, bm backend.Mat, opt backend.GemmOptions) error {
	const op = "Gemm"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckGemm(dst, a, bm, opt)
	if err != nil {
		return err
	}
	var dd, ad, bias []float32
	if err := b.bind(op, binding{"dst", dst.T, &dd}, binding{"a", a.T, &ad}, binding{"bias", opt.Bias, &bias}); err != nil {
		return err
	}
	bt, err := b.tensor(op, "b", bm.T)
	if err != nil {
		return err
	}
	var res strided
	if opt.Residual != nil {
		r := *opt.Residual
		rd, err := b.data(op, "residual", r.T)
		if err != nil {
			return err
		}
		res = stridedOf(rd, r)
	}
	norm, err := b.fusedNorm(op, dd, d.N, opt.Norm)
	if err != nil {
		return err
	}
	if d.Batch == 0 || d.M == 0 || d.N == 0 {
		return nil
	}

	c := stridedOf(dd, dst)
	// Inputs that share dst's storage are read from copies, so that writing
	// dst cannot change them (in-place x = x*W + x, say).
	av, bv := stridedOf(ad, a), stridedOf(bt.data, bm)
	if bt.dtype != backend.Float32 {
		bv.half = sgemm.Half{Bits: bt.bits, BFloat16: bt.dtype == backend.BFloat16}
	}
	for _, in := range []*strided{&av, &bv, &res} {
		if in.overlaps(c) {
			*in = in.packed()
		}
	}
	if sameStorage(bias, dd) {
		bias = append([]float32(nil), bias...)
	}

	g := gemmCall{d: d, opt: opt, alpha: opt.EffectiveAlpha(), a: av, b: bv, c: c, bias: bias, res: res, norm: norm}
	if d.Batch == 1 && !opt.TransA && bv.half.Bits == nil && d.M >= runtime.GOMAXPROCS(0)*gemmMinChunkRows &&
		sgemm.PackedBSize(d.K, d.N) <= gemmMaxPackedB {
		g.runRows()
		return nil
	}
	// Matrices of dst that do not overlap can be computed concurrently.
	disjoint := c.batchStride >= (d.M-1)*c.rowStride+d.N
	if d.Batch > 1 && disjoint && d.M*d.N*d.K <= batchParallelMACs {
		parallelFor(d.Batch, func(i int) { g.run(i, false) })
	} else {
		for i := range d.Batch {
			g.run(i, true)
		}
	}
	if norm != nil {
		norm.all(d.Batch * d.M) // dst is its tensor's rows (CheckGemm)
	}
	return nil
}

func stridedOf(data []float32, m backend.Mat) strided {
	return strided{data: data, batch: m.Batch, rows: m.Rows, cols: m.Cols, off: m.Offset, batchStride: m.BatchStride, rowStride: m.RowStride}
}

// gemmCall is one validated Gemm with its operands resolved to slices.
type gemmCall struct {
	d       backend.GemmDims
	opt     backend.GemmOptions
	alpha   float32
	a, b, c strided
	bias    []float32
	res     strided
	norm    *layerNorm // nil without opt.Norm
}

// run computes matrix i of the batch, with every core (parallel) or on the
// calling goroutine.
func (g *gemmCall) run(i int, parallel bool) {
	a, lda := g.a.matrix(i)
	c, ldc := g.c.matrix(i)
	var res []float32
	ldr := 0
	if g.res.data != nil {
		res, ldr = g.res.matrix(i)
	}
	m, n, k := g.d.M, g.d.N, g.d.K
	tA, tB, beta := g.opt.TransA, g.opt.TransB, g.opt.Beta
	switch {
	case parallel && !tA && tB && m <= gemvMaxRows && g.b.half.Bits != nil:
		// A few rows times half-precision weights (decoding): stream them, no
		// packing. Float32 weights keep sgemm, whose rows come out bit for bit
		// the same whatever the number of rows (a padded batch's rows equal the
		// rows alone).
		var w weight
		var ldb int
		if g.b.half.Bits != nil {
			w.half, ldb = g.b.halfMatrix(i)
		} else {
			w.f32, ldb = g.b.matrix(i)
		}
		w.gemvTransB(m, n, k, g.alpha, a, lda, ldb, beta, c, ldc)
	case g.b.half.Bits != nil:
		b, ldb := g.b.halfMatrix(i)
		if parallel {
			sgemm.GemmHalf(tA, tB, m, n, k, g.alpha, a, lda, b, ldb, beta, c, ldc)
		} else {
			sgemm.GemmHalfSerial(tA, tB, m, n, k, g.alpha, a, lda, b, ldb, beta, c, ldc)
		}
	case parallel:
		b, ldb := g.b.matrix(i)
		sgemm.Gemm(tA, tB, m, n, k, g.alpha, a, lda, b, ldb, beta, c, ldc)
	default:
		b, ldb := g.b.matrix(i)
		sgemm.GemmSerial(tA, tB, m, n, k, g.alpha, a, lda, b, ldb, beta, c, ldc)
	}
	if !parallel {
		epilogue(c, ldc, 0, m, n, g.bias, g.opt.Activation, res, ldr)
		return
	}
	if g.bias == nil && g.opt.Activation == backend.Identity && res == nil {
		return
	}
	rowBlocks(m, blockSize(m, 16, 256), func(lo, hi int) {
		epilogue(c, ldc, lo, hi, n, g.bias, g.opt.Activation, res, ldr)
	})
}

// Chunks of rows of the row-parallel product (gemmCall.runRows): at least
// gemmMinChunkRows rows, and at most gemmChunkFloats values of C (1 MiB, so
// that the epilogue finds them in the core's L2 cache). op(B) is packed whole
// for it only up to gemmMaxPackedB values (32 MiB, twice a BERT-large FFN
// weight): a larger B, such as a vocabulary projection, keeps the path that
// packs a block at a time rather than a copy as large as B.
const (
	gemmMinChunkRows = 64
	gemmChunkFloats  = 1 << 18
	gemmMaxPackedB   = 1 << 23
)

// runRows computes the one matrix of the batch as chunks of rows, as many for
// every core, against op(B) packed once (sgemm.PackB): each core runs a
// chunk's product and epilogue alone, so that no core waits for another
// before the end of the call and the epilogue reads C from the cache.
func (g *gemmCall) runRows() {
	m, n, k := g.d.M, g.d.N, g.d.K
	a, lda := g.a.matrix(0)
	b, ldb := g.b.matrix(0)
	c, ldc := g.c.matrix(0)
	var res []float32
	ldr := 0
	if g.res.data != nil {
		res, ldr = g.res.matrix(0)
	}
	buf := getBuffer(sgemm.PackedBSize(k, n))
	defer putBuffer(buf)
	pb := sgemm.PackB(*buf, g.opt.TransB, k, n, b, ldb)
	rowBlocks(m, evenBlockSize(m, max(gemmMinChunkRows, gemmChunkFloats/n)), func(lo, hi int) {
		sgemm.GemmPackedSerial(false, hi-lo, n, k, g.alpha, a[lo*lda:], lda, pb, g.opt.Beta, c[lo*ldc:], ldc)
		epilogue(c, ldc, lo, hi, n, g.bias, g.opt.Activation, res, ldr)
		if g.norm != nil {
			g.norm.rows(lo, hi) // while the chunk is in the cache
		}
	})
}

// epilogue finishes rows [lo, hi) of c (n columns, leading dimension ldc):
// c = act(c + bias) + res.
func epilogue(c []float32, ldc, lo, hi, n int, bias []float32, act backend.Activation, res []float32, ldr int) {
	if bias == nil && act == backend.Identity && res == nil {
		return
	}
	for i := lo; i < hi; i++ {
		row := c[i*ldc : i*ldc+n]
		biasActivate(row, bias, act)
		if res != nil {
			addTo(row, res[i*ldr:i*ldr+n])
		}
	}
}

// addToGeneric sets dst += src, one element at a time.
func addToGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for j := range dst {
		dst[j] += src[j]
	}
}
