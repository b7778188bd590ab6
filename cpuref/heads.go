package cpuref

import "github.com/clattn/clattn/backend"

// heads is a [batch, heads, seq, dim] view of a slice: element (b, h, i, d) lies
// at off + b*bs + h*hs + i*ss + d.
type heads struct {
	data            []float32
	batch, heads    int
	seq, dim        int
	off, bs, hs, ss int
}

func headsOf(data []float32, h backend.Heads) heads {
	return heads{data: data, batch: h.Batch, heads: h.Heads, seq: h.Seq, dim: h.Dim,
		off: h.Offset, bs: h.BatchStride, hs: h.HeadStride, ss: h.SeqStride}
}

// rows returns the slice from row i0 of (b, h) to the end of row i0+n-1 (n >= 1)
// and its leading dimension, valid for sgemm (at least dim).
func (v heads) rows(b, h, i0, n int) ([]float32, int) {
	if v.dim == 0 {
		return nil, 1
	}
	start := v.off + b*v.bs + h*v.hs + i0*v.ss
	ld := v.ss
	if n == 1 {
		ld = v.dim
	}
	return v.data[start : start+(n-1)*v.ss+v.dim], ld
}

// row returns row i of (b, h).
func (v heads) row(b, h, i int) []float32 {
	if v.dim == 0 {
		return nil
	}
	start := v.off + b*v.bs + h*v.hs + i*v.ss
	return v.data[start : start+v.dim]
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
	var a0, a1, a2, a3 float32
	for i := i0; i < i0+n; i++ {
		row := v.row(b, h, i)
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
func (v heads) overlapsSlice(data []float32) bool { return sameStorage(v.data, data) }

// packed returns a contiguous copy of the view.
func (v heads) packed() heads {
	p := heads{batch: v.batch, heads: v.heads, seq: v.seq, dim: v.dim,
		bs: v.heads * v.seq * v.dim, hs: v.seq * v.dim, ss: v.dim}
	p.data = make([]float32, v.batch*p.bs)
	for b := range v.batch {
		for h := range v.heads {
			for i := range v.seq {
				copy(p.row(b, h, i), v.row(b, h, i))
			}
		}
	}
	return p
}
