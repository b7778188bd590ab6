package cpuref

import (
	"unsafe"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref/internal/half"
	"github.com/clattn/clattn/cpuref/internal/sgemm"
)

// heads is a [batch, heads, seq, dim] view of a tensor's storage: element
// (b, h, i, d) lies at off + b*bs + h*hs + i*ss + d, in data (float32) or,
// for a float16 view (K and V of attention), in bits.
type heads struct {
	data            []float32
	bits            []uint16
	batch, heads    int
	seq, dim        int
	off, bs, hs, ss int
}

func headsOf(data []float32, h backend.Heads) heads {
	return heads{data: data, batch: h.Batch, heads: h.Heads, seq: h.Seq, dim: h.Dim,
		off: h.Offset, bs: h.BatchStride, hs: h.HeadStride, ss: h.SeqStride}
}

// kvHeadsOf views the storage of t, float32 or float16.
func kvHeadsOf(t *Tensor, h backend.Heads) heads {
	v := headsOf(t.data, h)
	if t.dtype == backend.Float16 {
		v.bits = t.bits
	}
	return v
}

// isHalf reports whether the view reads float16 storage.
func (v heads) isHalf() bool { return v.bits != nil }

// span returns the start of row i0 of (b, h) and the length from there to the
// end of row i0+n-1 (n >= 1), and its leading dimension, valid for sgemm (at
// least dim).
func (v heads) span(b, h, i0, n int) (start, length, ld int) {
	start = v.off + b*v.bs + h*v.hs + i0*v.ss
	ld = v.ss
	if n == 1 {
		ld = v.dim
	}
	return start, (n-1)*v.ss + v.dim, ld
}

// rows returns the slice from row i0 of (b, h) to the end of row i0+n-1 (n >= 1)
// of a float32 view and its leading dimension, valid for sgemm (at least dim).
func (v heads) rows(b, h, i0, n int) ([]float32, int) {
	if v.dim == 0 {
		return nil, 1
	}
	start, length, ld := v.span(b, h, i0, n)
	return v.data[start : start+length], ld
}

// halfRows is rows for a float16 view.
func (v heads) halfRows(b, h, i0, n int) (sgemm.Half, int) {
	if v.dim == 0 {
		return sgemm.Half{}, 1
	}
	start, length, ld := v.span(b, h, i0, n)
	return sgemm.Half{Bits: v.bits[start : start+length]}, ld
}

// gemm computes c = alpha*a*op(x) + beta*c where x is rows [i0, i0+n) of
// (b, h): with keys set op(x) = x^T (c is m x n, a is m x dim: scores), else
// op(x) = x (c is m x dim, a is m x n: weights times values). A float16 view
// is converted panel by panel inside the product.
func (v heads) gemm(keys bool, m int, alpha float32, a []float32, lda int, b, h, i0, n int, beta float32, c []float32, ldc int) {
	cn, k := v.dim, n
	if keys {
		cn, k = n, v.dim
	}
	if v.isHalf() {
		x, ldx := v.halfRows(b, h, i0, n)
		sgemm.GemmHalfSerial(false, keys, m, cn, k, alpha, a, lda, x, ldx, beta, c, ldc)
		return
	}
	x, ldx := v.rows(b, h, i0, n)
	sgemm.GemmSerial(false, keys, m, cn, k, alpha, a, lda, x, ldx, beta, c, ldc)
}

// row returns row i of (b, h) of a float32 view.
func (v heads) row(b, h, i int) []float32 {
	if v.dim == 0 {
		return nil
	}
	start := v.off + b*v.bs + h*v.hs + i*v.ss
	return v.data[start : start+v.dim]
}

// halfRow returns the bits of row i of (b, h) of a float16 view.
func (v heads) halfRow(b, h, i int) []uint16 {
	start := v.off + b*v.bs + h*v.hs + i*v.ss
	return v.bits[start : start+v.dim]
}

// rowValues returns row i of (b, h) as float32: the row itself, or for a
// float16 view its values converted into buf (at least dim long).
func (v heads) rowValues(b, h, i int, buf []float32) []float32 {
	if !v.isHalf() {
		return v.row(b, h, i)
	}
	buf = buf[:v.dim]
	half.Decode(buf, v.halfRow(b, h, i))
	return buf
}

// readable returns v, or a contiguous copy where its rows overlap (seq stride
// < dim), which sgemm cannot read.
func (v heads) readable() heads {
	if v.seq <= 1 || v.ss >= v.dim {
		return v
	}
	return v.packed()
}

// allFinite reports whether no element of rows [i0, i0+n) of (b, h) is NaN or Inf.
func (v heads) allFinite(b, h, i0, n int) bool {
	if v.isHalf() {
		for i := i0; i < i0+n; i++ {
			if half.NonFinite(v.halfRow(b, h, i)) {
				return false
			}
		}
		return true
	}
	if n == 0 || v.dim == 0 {
		return true
	}
	start := v.off + b*v.bs + h*v.hs + i0*v.ss
	return allFiniteRows(v.data[start:], n, v.dim, v.ss)
}

// allFiniteRowsGeneric is allFiniteRows one element at a time.
func allFiniteRowsGeneric(x []float32, rows, cols, stride int) bool {
	var a0, a1, a2, a3 float32
	for i := range rows {
		row := x[i*stride : i*stride+cols]
		j := 0
		for ; j+4 <= len(row); j += 4 {
			// x*0 is NaN for NaN and ±Inf, 0 otherwise.
			a0 += row[j] * 0
			a1 += row[j+1] * 0
			a2 += row[j+2] * 0
			a3 += row[j+3] * 0
		}
		for ; j < len(row); j++ {
			a0 += row[j] * 0
		}
	}
	return a0+a1+a2+a3 == 0
}

// finiteTiles reports for every tile of attnBlockK positions of every head
// whether all its values are finite, indexed (b*heads+h)*tiles + tile.
func (v heads) finiteTiles() []bool {
	tiles := (v.seq + attnBlockK - 1) / attnBlockK
	ok := make([]bool, v.batch*v.heads*tiles)
	parallelFor(len(ok), func(i int) {
		bh, t := i/tiles, i%tiles
		j0 := t * attnBlockK
		ok[i] = v.allFinite(bh/v.heads, bh%v.heads, j0, min(attnBlockK, v.seq-j0))
	})
	return ok
}

// sameStorage reports whether a and b start at the same element, as two
// slices of one tensor's data do.
func sameStorage(a, b []float32) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// overlapsSlice reports whether the view reads the storage of data (the same tensor).
func (v heads) overlapsSlice(data []float32) bool { return !v.isHalf() && sameStorage(v.data, data) }

// packed returns a contiguous copy of the view.
func (v heads) packed() heads {
	p := heads{batch: v.batch, heads: v.heads, seq: v.seq, dim: v.dim,
		bs: v.heads * v.seq * v.dim, hs: v.seq * v.dim, ss: v.dim}
	if v.isHalf() {
		p.bits = make([]uint16, v.batch*p.bs)
	} else {
		p.data = make([]float32, v.batch*p.bs)
	}
	for b := range v.batch {
		for h := range v.heads {
			for i := range v.seq {
				if v.isHalf() {
					copy(p.halfRow(b, h, i), v.halfRow(b, h, i))
				} else {
					copy(p.row(b, h, i), v.row(b, h, i))
				}
			}
		}
	}
	return p
}

// scores4 sets s[r*lds+j] = scale * q[r] . k[j0+j] for the four query rows q
// (contiguous, dim each) and keys [j0, j0+n) of (b, h): the decode path's
// kernel, reading float16 keys as they are stored. A float16 kernel also
// prefetches into L2 the n rows from ahead (see aheadOf), if not nil.
func (v heads) scores4(q []float32, b, h, j0, n int, s []float32, lds int, scale float32, ahead *uint16) {
	start, length, ld := v.span(b, h, j0, n)
	if v.isHalf() {
		scores4F16(q, v.dim, v.bits[start:start+length], ld, n, s, lds, scale, ahead)
		return
	}
	scores4F32(q, v.dim, v.data[start:start+length], ld, n, s, lds, scale)
}

// values4 adds p[r] * v[j0:j0+n] to the four rows of o (leading dimension ldo):
// the decode path's kernel for weights p (four rows, leading dimension ldp)
// and values [j0, j0+n) of (b, h); ahead as in scores4.
func (v heads) values4(p []float32, ldp, b, h, j0, n int, o []float32, ldo int, ahead *uint16) {
	start, length, ld := v.span(b, h, j0, n)
	if v.isHalf() {
		values4F16(p, ldp, n, v.bits[start:start+length], ld, v.dim, o, ldo, ahead)
		return
	}
	values4F32(p, ldp, n, v.data[start:start+length], ld, v.dim, o, ldo)
}

// prefetch asks for rows [j0, j0+n) of (b, h) to be brought into the cache.
func (v heads) prefetch(b, h, j0, n int) {
	start, length, _ := v.span(b, h, j0, n)
	if v.isHalf() {
		x := v.bits[start : start+length]
		prefetchRows((*byte)(unsafe.Pointer(&x[0])), 2*v.ss, n, (2*v.dim+63)/64)
		return
	}
	x := v.data[start : start+length]
	prefetchRows((*byte)(unsafe.Pointer(&x[0])), 4*v.ss, n, (4*v.dim+63)/64)
}

// aheadOf returns the address of row i of (b, h) of o, for a kernel that
// reads rows of v (float16, the same row stride and head dim) to prefetch
// alongside its own; nil where o cannot be (float32, other strides, or no
// row i).
func (v heads) aheadOf(o heads, b, h, i int) *uint16 {
	if !v.isHalf() || !o.isHalf() || o.ss != v.ss || o.dim != v.dim || i < 0 || i >= o.seq {
		return nil
	}
	return &o.bits[o.off+b*o.bs+h*o.hs+i*o.ss]
}
