package cpuref

import (
	"math"
	"runtime"

	"github.com/clattn/clattn/backend"
)

// Tile sizes of the attention kernels: a block of up to attnBlockQ queries
// meets the keys and values attnBlockK at a time, so the score tile (128 KiB)
// and the output accumulator stay in the L2 cache, and each packed K or V tile
// serves many queries.
const (
	attnBlockQ = 128
	attnBlockK = 256
)

// headBlocks splits batch*heads*seqQ query rows into tasks of at most
// attnBlockQ rows of one head and calls body for each in parallel. Tasks are
// handed out last block first, so that causal attention's heaviest blocks
// start early and the cores finish together.
func headBlocks(batch, nheads, seqQ int, body func(b, h, i0, rows int)) {
	if batch == 0 || nheads == 0 || seqQ == 0 {
		return
	}
	bq := queryBlock(batch, nheads, seqQ)
	nq := (seqQ + bq - 1) / bq
	parallelFor(batch*nheads*nq, func(t int) {
		qb := nq - 1 - t%nq
		bh := t / nq
		i0 := qb * bq
		body(bh/nheads, bh%nheads, i0, min(bq, seqQ-i0))
	})
}

// queryBlock is the number of query rows per task of headBlocks: attnBlockQ,
// or fewer where there would be too few blocks to keep every core busy.
func queryBlock(batch, nheads, seqQ int) int {
	bq := attnBlockQ
	for bq > 32 && batch*nheads*((seqQ+bq-1)/bq) < 2*runtime.GOMAXPROCS(0) {
		bq /= 2
	}
	return bq
}

// Scores computes dst[b,h] = scale * q[b,h] * k[b,h/group]^T (scale 0 means 1/sqrt(dim)).
func (b *Backend) Scores(dst backend.Tensor, q, k backend.Heads, scale float32) error {
	const op = "Scores"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckScores(dst, q, k)
	if err != nil {
		return err
	}
	var dd, qd []float32
	if err := b.bind(op, binding{"dst", dst, &dd}, binding{"q", q.T, &qd}); err != nil {
		return err
	}
	kt, err := b.tensor(op, "k", k.T)
	if err != nil {
		return err
	}
	if d.SeqK == 0 {
		return nil
	}
	scale = backend.AttentionOptions{Scale: scale}.EffectiveScale(d.DimK)
	qv, kv := headsOf(qd, q).readable(), kvHeadsOf(kt, k).readable()
	if qv.overlapsSlice(dd) {
		qv = qv.packed()
	}
	if kv.overlapsSlice(dd) {
		kv = kv.packed()
	}
	sq, sk := d.SeqQ, d.SeqK
	headBlocks(d.Batch, d.Heads, sq, func(bi, h, i0, rows int) {
		qs, ldq := qv.rows(bi, h, i0, rows)
		out := dd[((bi*d.Heads+h)*sq+i0)*sk:][:rows*sk]
		kv.gemm(true, rows, scale, qs, ldq, bi, d.KVHead(h), 0, sk, 0, out, sk)
	})
	return nil
}

// Softmax masks scores [B,H,Sq,Sk] as opt says and normalises each row into dst
// (which may be scores). A row whose every key is masked becomes zeros.
func (b *Backend) Softmax(dst, scores backend.Tensor, opt backend.AttentionOptions) error {
	const op = "Softmax"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckSoftmax(dst, scores, opt)
	if err != nil {
		return err
	}
	var dd, sd []float32
	if err := b.bind(op, binding{"dst", dst, &dd}, binding{"scores", scores, &sd}); err != nil {
		return err
	}
	m, err := b.masksOf(op, d, opt)
	if err != nil {
		return err
	}
	sq, sk := d.SeqQ, d.SeqK
	if sk == 0 {
		return nil
	}
	headBlocks(d.Batch, d.Heads, sq, func(bi, h, i0, rows int) {
		start := ((bi*d.Heads+h)*sq + i0) * sk
		tile := dd[start : start+rows*sk]
		copy(tile, sd[start:start+rows*sk])
		m.apply(tile, sk, bi, h, i0, rows, 0, sk)
		for r := range rows {
			softmaxRow(tile[r*sk : (r+1)*sk])
		}
	})
	return nil
}

// softmaxRow normalises row in place: exp(x - max) / sum. A row of -Inf becomes
// zeros; a row of NaN (and -Inf) becomes NaN, as IEEE arithmetic would give.
func softmaxRow(row []float32) {
	mx := rowMax(row)
	if mx == negInf {
		fill := float32(0)
		if hasNaN(row) {
			fill = float32(math.NaN())
		}
		for j := range row {
			row[j] = fill
		}
		return
	}
	expShift(row, mx)
	var sum float64
	for _, p := range row {
		sum += float64(p)
	}
	for j, p := range row {
		row[j] = float32(float64(p) / sum)
	}
}

// AttendValues computes out[b,h] = weights[b,h] * v[b,h/group]. Values whose weight is
// exactly zero are skipped, so NaN or Inf in masked values never leaks.
func (b *Backend) AttendValues(out backend.Heads, weights backend.Tensor, v backend.Heads) error {
	const op = "AttendValues"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckAttendValues(out, weights, v)
	if err != nil {
		return err
	}
	var od, wd []float32
	if err := b.bind(op, binding{"out", out.T, &od}, binding{"weights", weights, &wd}); err != nil {
		return err
	}
	vt, err := b.tensor(op, "v", v.T)
	if err != nil {
		return err
	}
	if d.DimV == 0 {
		return nil
	}
	ov, vv := headsOf(od, out), kvHeadsOf(vt, v).readable()
	if sameStorage(wd, od) {
		wd = append([]float32(nil), wd...)
	}
	if vv.overlapsSlice(od) {
		vv = vv.packed()
	}
	sq, sk, dv := d.SeqQ, d.SeqK, d.DimV
	finite, tiles := vv.finiteTiles(), (sk+attnBlockK-1)/attnBlockK
	headBlocks(d.Batch, d.Heads, sq, func(bi, h, i0, rows int) {
		acc := getBuffer(rows * dv)
		defer putBuffer(acc)
		o := *acc
		clear(o)
		w := wd[((bi*d.Heads+h)*sq+i0)*sk:][:rows*sk]
		for j0 := 0; j0 < sk; j0 += attnBlockK {
			n := min(attnBlockK, sk-j0)
			hv := d.KVHead(h)
			tile := (bi*d.HeadsKV+hv)*tiles + j0/attnBlockK
			accumulateValues(o, w[j0:], sk, vv, bi, hv, j0, rows, n, finite[tile])
		}
		for r := range rows {
			copy(ov.row(bi, h, i0+r), o[r*dv:(r+1)*dv])
		}
	})
	return nil
}

// accumulateValues adds p * v[b,h][j0:j0+n] to o (rows x dim, contiguous),
// where p is rows x n with leading dimension ldp. Through sgemm where those
// values are all finite (a zero weight then contributes exactly 0); else
// element by element, skipping zero weights.
func accumulateValues(o, p []float32, ldp int, v heads, b, h, j0, rows, n int, finite bool) {
	if finite {
		v.gemm(false, rows, 1, p, ldp, b, h, j0, n, 1, o, v.dim)
		return
	}
	buf := getBuffer(v.dim)
	defer putBuffer(buf)
	for r := range rows {
		orow := o[r*v.dim : (r+1)*v.dim]
		for j, w := range p[r*ldp : r*ldp+n] {
			if w == 0 {
				continue
			}
			for c, x := range v.rowValues(b, h, j0+j, *buf) {
				orow[c] += w * x
			}
		}
	}
}

// Attention computes softmax(scale*q*k^T + masks)*v with the online softmax of a
// flash kernel: each block of queries meets the keys and values one tile at a
// time, keeping a running row maximum and sum, so the Sq x Sk matrix is never
// stored. A query whose every key is masked gives zeros.
func (b *Backend) Attention(out, q, k, v backend.Heads, opt backend.AttentionOptions) error {
	const op = "Attention"
	if err := b.open(op); err != nil {
		return err
	}
	d, err := backend.CheckAttention(out, q, k, v, opt)
	if err != nil {
		return err
	}
	var od, qd []float32
	if err := b.bind(op, binding{"out", out.T, &od}, binding{"q", q.T, &qd}); err != nil {
		return err
	}
	kt, err := b.tensor(op, "k", k.T)
	if err != nil {
		return err
	}
	vt, err := b.tensor(op, "v", v.T)
	if err != nil {
		return err
	}
	m, err := b.masksOf(op, d, opt)
	if err != nil {
		return err
	}
	if d.DimV == 0 {
		return nil
	}
	a := flash{
		d: d, m: m, scale: opt.EffectiveScale(d.DimK),
		q: headsOf(qd, q).readable(), k: kvHeadsOf(kt, k).readable(), v: kvHeadsOf(vt, v).readable(),
		out: headsOf(od, out),
	}
	// Queries are read block by block while out is written: inputs that share
	// its storage are read from copies.
	for _, in := range []*heads{&a.q, &a.k, &a.v} {
		if in.overlapsSlice(od) {
			*in = in.packed()
		}
	}
	if decodeShape(d) {
		a.decode()
		return nil
	}
	if d.Group() == 1 && d.SeqQ <= queryBlock(d.Batch, d.Heads, d.SeqQ) {
		// Each tile of V meets one block of queries: checked there, as it
		// is about to be used, it is read from memory once, not twice.
		a.checkTiles = true
	} else {
		a.finite, a.tiles = a.v.finiteTiles(), (d.SeqK+attnBlockK-1)/attnBlockK
	}
	headBlocks(d.Batch, d.Heads, d.SeqQ, a.block)
	return nil
}

// flash is one validated fused attention call.
type flash struct {
	d       backend.AttentionDims
	m       masks
	scale   float32
	q, k, v heads
	out     heads
	// finite says which tiles of v hold only finite values (finiteTiles),
	// tiles is the number of tiles per head; nil where each tile is checked
	// as it is used: with checkTiles set, every tile (as finiteTiles
	// would), else only a tile that some zero weight meets (the decode
	// path, whose few query rows make that the cheaper check).
	finite     []bool
	tiles      int
	checkTiles bool
	// fourRow selects the decode path's four-row kernels (scores4, values4)
	// over sgemm: the query rows are then padded to a multiple of four, in qs,
	// s and the output accumulator alike.
	fourRow bool
}

// rowSet is the query rows one task computes: rows [i0, i0+rows) of each of
// the query heads h0 ... h0+nh-1 of batch b, which all read K/V head hv.
type rowSet struct{ b, h0, nh, i0, rows, hv int }

// count is the number of query rows.
func (rs rowSet) count() int { return rs.nh * rs.rows }

// online is the running state of an online softmax over rows query rows:
// the unnormalised output o (rows x dv), the row maxima and the sums of
// exp(score - max).
type online struct{ o, mx, sum []float32 }

// newOnline carves the state of rows rows out of buf (at least
// rows*(dv+2) long) and resets it: no key seen.
func newOnline(buf []float32, rows, dv int) online {
	st := online{o: buf[:rows*dv], mx: buf[rows*dv:][:rows], sum: buf[rows*dv+rows:][:rows]}
	clear(st.o)
	clear(st.sum)
	for r := range st.mx {
		st.mx[r] = negInf
	}
	return st
}

// onlineSize is the length of the buffer newOnline needs.
func onlineSize(rows, dv int) int { return rows * (dv + 2) }

// attend folds keys [k0, k1) into st for the rows of rs, whose queries are qs
// (rs.count() rows, leading dimension ldq), attnBlockK keys at a time; s is
// scratch of at least rs.count()*attnBlockK values (with fourRow, qs, s and
// st hold kernelRows(rs.count()) rows).
func (a *flash) attend(rs rowSet, qs []float32, ldq int, k0, k1 int, st online, s []float32) {
	dv, rows := a.d.DimV, rs.count()
	padded := a.kernelRows(rows)
	for j0 := k0; j0 < k1; j0 += attnBlockK {
		n := min(attnBlockK, k1-j0)
		if a.fourRow {
			if !kernelsPrefetch(a.d.DimV) {
				// The values of this tile and the keys of the next come
				// from memory while the scores of this one are computed
				// (the AVX-512 kernels prefetch as they go instead).
				a.v.prefetch(rs.b, rs.hv, j0, n)
				if next := j0 + attnBlockK; next < k1 {
					a.k.prefetch(rs.b, rs.hv, next, min(attnBlockK, k1-next))
				}
			}
			// The values go to L2 as the keys stream past, aheadLead rows
			// past them: the last ones still stream in while the tile's
			// softmax runs, which reads no memory.
			ahead := a.k.aheadOf(a.v, rs.b, rs.hv, j0+aheadLead)
			for r0 := 0; r0 < padded; r0 += 4 {
				a.k.scores4(qs[r0*ldq:], rs.b, rs.hv, j0, n, s[r0*n:], n, a.scale, ahead)
				ahead = nil
			}
		} else {
			a.k.gemm(true, rows, a.scale, qs, ldq, rs.b, rs.hv, j0, n, 0, s, n)
		}
		for hh := range rs.nh {
			a.m.apply(s[hh*rs.rows*n:], n, rs.b, rs.h0+hh, rs.i0, rs.rows, j0, n)
		}
		// zero: some weight of the tile is exactly 0, which matters only where
		// V's tiles are checked only where a zero weight meets them (a.finite
		// nil, a.checkTiles unset).
		zero := false
		for r := range rows {
			row := s[r*n : (r+1)*n]
			m := max(st.mx[r], rowMax(row))
			if m == negInf {
				// Nothing visible yet: weights 0, accumulators unchanged,
				// except that a NaN score (rowMax ignores NaN) poisons the
				// row's sum, as IEEE arithmetic would.
				if hasNaN(row) {
					st.sum[r] = float32(math.NaN())
				}
				clear(row)
				zero = true
				continue
			}
			if m != st.mx[r] {
				// A larger maximum rescales what has been accumulated,
				// where there is something: on the first visible tile
				// the output is zeros and the sum 0 (or NaN), which the
				// factor exp(-Inf) = 0 would leave as they are.
				if st.mx[r] != negInf {
					c := expf(st.mx[r] - m)
					st.sum[r] *= c
					scaleSlice(st.o[r*dv:(r+1)*dv], c)
				}
				st.mx[r] = m
			}
			st.sum[r] += expShift(row, m)
			zero = zero || a.finite == nil && !a.checkTiles && hasZero(row)
		}
		clear(s[rows*n : padded*n]) // the padding rows weigh nothing
		var finite bool
		switch {
		case a.finite != nil:
			finite = a.finite[(rs.b*a.d.HeadsKV+rs.hv)*a.tiles+j0/attnBlockK]
		case a.checkTiles:
			finite = a.v.allFinite(rs.b, rs.hv, j0, n)
		default:
			// A zero weight must not meet a NaN or Inf value: check the
			// values (now in cache) only where there is one.
			finite = !zero || a.v.allFinite(rs.b, rs.hv, j0, n)
		}
		if finite && a.fourRow {
			// The next tile's keys go to L2 as these values stream past
			// (aheadLead rows on).
			var ahead *uint16
			if j0+n < k1 {
				ahead = a.v.aheadOf(a.k, rs.b, rs.hv, j0+n+aheadLead)
			}
			for r0 := 0; r0 < padded; r0 += 4 {
				a.v.values4(s[r0*n:], n, rs.b, rs.hv, j0, n, st.o[r0*dv:], dv, ahead)
				ahead = nil
			}
			continue
		}
		accumulateValues(st.o, s, n, a.v, rs.b, rs.hv, j0, rows, n, finite)
	}
}

// aheadLead is how many rows past its own the decode path's score kernel
// prefetches the values, and its value kernel the next tile's keys (a tile's
// first aheadLead rows come with the tile before). Decode at 32k keys,
// in-process A/B against 0 rows: values 2-6% faster, then keys 1-3% more; 16,
// 64 and 128 rows no better than 32.
const aheadLead = 32

// kernelRows is the number of rows the products compute for rows query rows:
// rows rounded up to a multiple of four with the four-row kernels.
func (a *flash) kernelRows(rows int) int {
	if a.fourRow {
		return (rows + 3) &^ 3
	}
	return rows
}

// finish writes the normalised output of query row r of st (0 where no key
// was visible) into dst.
func (st online) finish(r int, dst []float32) {
	dv := len(dst)
	if st.sum[r] == 0 {
		clear(dst)
		return
	}
	scaleRound(dst, st.o[r*dv:(r+1)*dv], 1/float64(st.sum[r]))
}

// block computes queries [i0, i0+rows) of batch b, head h.
func (a *flash) block(b, h, i0, rows int) {
	dv := a.d.DimV
	kEnd := a.m.visibleEnd(b, i0+rows)
	if kEnd <= 0 || a.d.SeqK == 0 {
		for r := range rows {
			clear(a.out.row(b, h, i0+r))
		}
		return
	}
	buf := getBuffer(rows*attnBlockK + onlineSize(rows, dv))
	defer putBuffer(buf)
	s := (*buf)[:rows*attnBlockK]
	st := newOnline((*buf)[rows*attnBlockK:], rows, dv)
	// The output rows, a few cache lines each far apart, are fetched while
	// the block is computed rather than line by line as they are written.
	a.out.prefetch(b, h, i0, rows)
	qs, ldq := a.q.rows(b, h, i0, rows)
	a.attend(rowSet{b: b, h0: h, nh: 1, i0: i0, rows: rows, hv: a.d.KVHead(h)}, qs, ldq, 0, kEnd, st, s)
	for r := range rows {
		st.finish(r, a.out.row(b, h, i0+r))
	}
}

// hasZeroGeneric reports whether row holds a zero, one element at a time.
func hasZeroGeneric(row []float32) bool {
	for _, x := range row {
		if x == 0 {
			return true
		}
	}
	return false
}

// scaleSliceGeneric sets x *= c, one element at a time.
func scaleSliceGeneric(x []float32, c float32) {
	for i := range x {
		x[i] *= c
	}
}

// scaleRoundGeneric sets dst[j] = float32(float64(src[j]) * inv), one element
// at a time.
func scaleRoundGeneric(dst, src []float32, inv float64) {
	src = src[:len(dst)]
	for j, x := range src {
		dst[j] = float32(float64(x) * inv)
	}
}

// hasNaN reports whether row holds a NaN.
func hasNaN(row []float32) bool {
	for _, x := range row {
		if x != x {
			return true
		}
	}
	return false
}
