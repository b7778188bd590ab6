package cpuref

import (
	"math"
	"runtime"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref/internal/sgemm"
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
	// Smaller blocks where there would be too few to keep every core busy.
	bq := attnBlockQ
	for bq > 32 && batch*nheads*((seqQ+bq-1)/bq) < 2*runtime.GOMAXPROCS(0) {
		bq /= 2
	}
	nq := (seqQ + bq - 1) / bq
	parallelFor(batch*nheads*nq, func(t int) {
		qb := nq - 1 - t%nq
		bh := t / nq
		i0 := qb * bq
		body(bh/nheads, bh%nheads, i0, min(bq, seqQ-i0))
	})
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
	var dd, qd, kd []float32
	if err := b.bind(op, binding{"dst", dst, &dd}, binding{"q", q.T, &qd}, binding{"k", k.T, &kd}); err != nil {
		return err
	}
	if d.SeqK == 0 {
		return nil
	}
	scale = backend.AttentionOptions{Scale: scale}.EffectiveScale(d.DimK)
	qv, kv := headsOf(qd, q).readable(), headsOf(kd, k).readable()
	if qv.overlapsSlice(dd) {
		qv = qv.packed()
	}
	if kv.overlapsSlice(dd) {
		kv = kv.packed()
	}
	sq, sk := d.SeqQ, d.SeqK
	headBlocks(d.Batch, d.Heads, sq, func(bi, h, i0, rows int) {
		qs, ldq := qv.rows(bi, h, i0, rows)
		ks, ldk := kv.rows(bi, d.KVHead(h), 0, sk)
		out := dd[((bi*d.Heads+h)*sq+i0)*sk:][:rows*sk]
		sgemm.GemmSerial(false, true, rows, sk, d.DimK, scale, qs, ldq, ks, ldk, 0, out, sk)
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
	var od, wd, vd []float32
	if err := b.bind(op, binding{"out", out.T, &od}, binding{"weights", weights, &wd}, binding{"v", v.T, &vd}); err != nil {
		return err
	}
	if d.DimV == 0 {
		return nil
	}
	ov, vv := headsOf(od, out), headsOf(vd, v).readable()
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
		vs, ldv := v.rows(b, h, j0, n)
		sgemm.GemmSerial(false, false, rows, v.dim, n, 1, p, ldp, vs, ldv, 1, o, v.dim)
		return
	}
	for r := range rows {
		orow := o[r*v.dim : (r+1)*v.dim]
		for j, w := range p[r*ldp : r*ldp+n] {
			if w == 0 {
				continue
			}
			for c, x := range v.row(b, h, j0+j) {
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
	var od, qd, kd, vd []float32
	if err := b.bind(op, binding{"out", out.T, &od}, binding{"q", q.T, &qd}, binding{"k", k.T, &kd}, binding{"v", v.T, &vd}); err != nil {
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
		q: headsOf(qd, q).readable(), k: headsOf(kd, k).readable(), v: headsOf(vd, v).readable(),
		out: headsOf(od, out),
	}
	// Queries are read block by block while out is written: inputs that share
	// its storage are read from copies.
	for _, in := range []*heads{&a.q, &a.k, &a.v} {
		if in.overlapsSlice(od) {
			*in = in.packed()
		}
	}
	a.finite, a.tiles = a.v.finiteTiles(), (d.SeqK+attnBlockK-1)/attnBlockK
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
	// tiles is the number of tiles per head.
	finite []bool
	tiles  int
}

// block computes queries [i0, i0+rows) of batch b, head h.
func (a *flash) block(b, h, i0, rows int) {
	dv := a.d.DimV
	kEnd := a.m.keyEnd(i0 + rows)
	if kEnd <= 0 || a.d.SeqK == 0 {
		for r := range rows {
			clear(a.out.row(b, h, i0+r))
		}
		return
	}
	buf := getBuffer(rows*attnBlockK + rows*dv + 2*rows)
	defer putBuffer(buf)
	s := (*buf)[:rows*attnBlockK]
	o := (*buf)[rows*attnBlockK:][:rows*dv]
	mx := (*buf)[rows*attnBlockK+rows*dv:][:rows]
	sum := (*buf)[rows*attnBlockK+rows*dv+rows:][:rows]
	clear(o)
	clear(sum)
	for r := range mx {
		mx[r] = negInf
	}
	qs, ldq := a.q.rows(b, h, i0, rows)
	hv := a.d.KVHead(h)
	for j0 := 0; j0 < kEnd; j0 += attnBlockK {
		n := min(attnBlockK, kEnd-j0)
		ks, ldk := a.k.rows(b, hv, j0, n)
		sgemm.GemmSerial(false, true, rows, n, a.d.DimK, a.scale, qs, ldq, ks, ldk, 0, s, n)
		a.m.apply(s, n, b, h, i0, rows, j0, n)
		for r := range rows {
			row := s[r*n : (r+1)*n]
			m := max(mx[r], rowMax(row))
			if m == negInf {
				// Nothing visible yet: weights 0, accumulators unchanged,
				// except that a NaN score (rowMax ignores NaN) poisons the
				// row's sum, as IEEE arithmetic would.
				if hasNaN(row) {
					sum[r] = float32(math.NaN())
				}
				clear(row)
				continue
			}
			if m != mx[r] {
				// A larger maximum rescales what has been accumulated
				// (exp(-Inf) = 0 on the first visible tile).
				c := expf(mx[r] - m)
				sum[r] *= c
				scaleSlice(o[r*dv:(r+1)*dv], c)
				mx[r] = m
			}
			sum[r] += expShift(row, m)
		}
		accumulateValues(o, s, n, a.v, b, hv, j0, rows, n, a.finite[(b*a.d.HeadsKV+hv)*a.tiles+j0/attnBlockK])
	}
	for r := range rows {
		dst := a.out.row(b, h, i0+r)
		if sum[r] == 0 {
			clear(dst)
			continue
		}
		inv := 1 / float64(sum[r])
		for c, x := range o[r*dv : (r+1)*dv] {
			dst[c] = float32(float64(x) * inv)
		}
	}
}

// scaleSlice sets x *= c.
func scaleSlice(x []float32, c float32) {
	for i := range x {
		x[i] *= c
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
