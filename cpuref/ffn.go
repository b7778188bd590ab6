package cpuref

import (
	"runtime"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref/internal/sgemm"
	"github.com/clattn/clattn/internal/sysmem"
)

// ffnChunkFloats bounds the hidden activations of one chunk of rows: three
// quarters of a core's L2 cache (ffnChunkFloatsFor), so that they stay there
// between the two products beside the weights' panels. The larger the chunk,
// the fewer times each core streams the packed weights: on a 2 MiB L2, 256
// rows of 1536 instead of 170 made the MiniLM embed pass 2-3% faster.
var ffnChunkFloats = ffnChunkFloatsFor(sysmem.L2Cache())

// ffnChunkFloatsFor is ffnChunkFloats for an L2 cache of l2 bytes (0:
// unknown, taken as 4/3 MiB).
func ffnChunkFloatsFor(l2 int) int {
	if l2 <= 0 {
		return 1 << 18
	}
	return max(1<<15, 3*l2/4/4)
}

// ffnMinChunkRows is the fewest rows a chunk of its own on each core gets:
// fewer rows run as one chunk, each product on every core, which does not pack
// all of both weights for a few rows (decoding).
const ffnMinChunkRows = 32

// FeedForward computes dst = act(x*W1^T + b1)*W2^T + b2 (+ residual) in chunks
// of rows. With rows enough for a chunk per core, each weight is packed into
// sgemm's panels once per call (sgemm.PackB) and the chunks, as many for every
// core, are shared out between the cores; each core runs a chunk's two
// products, bias, activation and opt.Norm alone, so no core waits for another
// before the end of the call. Fewer rows run as one chunk, each product on every
// core. A row's result is the same either way. dst may be x or the residual.
func (b *Backend) FeedForward(dst, x backend.Tensor, w backend.FFNWeights, opt backend.FFNOptions) error {
	const op = "FeedForward"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckFeedForward(dst, x, w, opt)
	if err != nil {
		return err
	}
	f := ffn{d: d, act: opt.Activation}
	if err := b.bind(op, binding{"dst", dst, &f.dst}, binding{"x", x, &f.x}, binding{"W1", w.W1, &f.w1},
		binding{"B1", w.B1, &f.b1}, binding{"W2", w.W2, &f.w2}, binding{"B2", w.B2, &f.b2},
		binding{"residual", opt.Residual, &f.res}); err != nil {
		return err
	}
	if f.norm, err = b.fusedNorm(op, f.dst, d.DModel, opt.Norm); err != nil {
		return err
	}
	if d.Rows == 0 || d.DModel == 0 {
		return nil
	}
	// Weights written through dst would change under later chunks: copy them.
	for _, p := range []*[]float32{&f.w1, &f.b1, &f.w2, &f.b2} {
		if sameStorage(*p, f.dst) {
			*p = append([]float32(nil), *p...)
		}
	}
	if d.Rows < runtime.GOMAXPROCS(0)*ffnMinChunkRows {
		f.chunk(0, d.Rows, true)
		return nil
	}
	dm, dff := d.DModel, d.DFF
	p1, p2 := getBuffer(sgemm.PackedBSize(dm, dff)), getBuffer(sgemm.PackedBSize(dff, dm))
	defer putBuffer(p1)
	defer putBuffer(p2)
	w1 := sgemm.PackB(*p1, true, dm, dff, f.w1, dm)
	w2 := sgemm.PackB(*p2, true, dff, dm, f.w2, max(dff, 1))
	f.w1p, f.w2p = &w1, &w2
	rowBlocks(d.Rows, evenBlockSize(d.Rows, ffnChunkFloats/max(dff, 1)), func(lo, hi int) { f.chunk(lo, hi, false) })
	return nil
}

// ffn is one validated FeedForward call; b1, b2 and res may be nil, and so
// may w1p and w2p, W1 and W2 packed once for all chunks.
type ffn struct {
	d                           backend.FFNDims
	act                         backend.Activation
	dst, x, w1, b1, w2, b2, res []float32
	w1p, w2p                    *sgemm.PackedB
	norm                        *layerNorm // nil without opt.Norm
}

// chunk computes rows [lo, hi), on every core (parallel, from W1 and W2 as
// they are) or on the calling goroutine (from w1p and w2p). The first product
// reads all of the chunk's x before its dst rows are written, and each
// residual element is read before its dst element, so dst may alias x or the
// residual.
func (f *ffn) chunk(lo, hi int, parallel bool) {
	rows, dm, dff := hi-lo, f.d.DModel, f.d.DFF
	buf := getBuffer(rows * dff)
	defer putBuffer(buf)
	hidden := *buf
	if parallel {
		sgemm.Gemm(false, true, rows, dff, dm, 1, f.x[lo*dm:hi*dm], dm, f.w1, dm, 0, hidden, max(dff, 1))
	} else {
		sgemm.GemmPackedSerial(false, rows, dff, dm, 1, f.x[lo*dm:hi*dm], dm, *f.w1p, 0, hidden, max(dff, 1))
	}
	out := f.dst[lo*dm : hi*dm]
	beta := float32(0)
	if f.b2 != nil || f.res != nil {
		beta = 1
	}
	// between activates the hidden rows [r0, r1) and starts their output
	// rows as the residual plus b2, which the second product adds to.
	between := func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			biasActivate(hidden[r*dff:(r+1)*dff], f.b1, f.act)
			o := out[r*dm : (r+1)*dm]
			switch {
			case f.res != nil && f.b2 != nil:
				copy(o, f.res[(lo+r)*dm:][:dm])
				addTo(o, f.b2) // res + b2, as one add each
			case f.res != nil:
				copy(o, f.res[(lo+r)*dm:][:dm])
			case f.b2 != nil:
				copy(o, f.b2)
			}
		}
	}
	if parallel {
		rowBlocks(rows, blockSize(rows, 4, 64), between)
		sgemm.Gemm(false, true, rows, dm, dff, 1, hidden, max(dff, 1), f.w2, max(dff, 1), beta, out, dm)
	} else {
		between(0, rows)
		sgemm.GemmPackedSerial(false, rows, dm, dff, 1, hidden, max(dff, 1), *f.w2p, beta, out, dm)
	}
	if f.norm != nil {
		f.norm.rows(lo, hi) // while the chunk is in the cache
	}
}
