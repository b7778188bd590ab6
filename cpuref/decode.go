package cpuref

import (
	"math"
	"runtime"

	"github.com/clattn/clattn/backend"
)

// decodeMaxQueries is the shape rule between the two ways Attention runs: at
// most this many query rows (one token, or a few of speculative or chunked
// decoding) take the split-K decode path, more the flash path of query blocks.
const decodeMaxQueries = 16

// decodeShape reports whether a call of sizes d takes the decode path.
func decodeShape(d backend.AttentionDims) bool { return d.SeqQ <= decodeMaxQueries }

// decode is flash-decoding: the visible keys of each (batch, K/V head) are cut
// into slices of whole key tiles, and one task per slice computes, for all the
// query rows of all the query heads that share the K/V head, a partial row
// maximum, sum and unnormalised output over its keys; each K/V byte is read
// once. A second pass combines the slices of each row. There are enough
// slices to keep every core busy even with one sequence and few K/V heads.
func (a *flash) decode() {
	d := a.d
	if d.Batch*d.Heads*d.SeqQ == 0 {
		return
	}
	g, dv := d.Group(), d.DimV
	rows := g * d.SeqQ // query rows of one K/V head
	kEnd := min(a.m.keyEnd(d.SeqQ), d.SeqK)
	if kEnd <= 0 {
		for b := range d.Batch {
			for h := range d.Heads {
				for i := range d.SeqQ {
					clear(a.out.row(b, h, i))
				}
			}
		}
		return
	}
	a.fourRow = fourRowKernels && d.DimK%16 == 0 && d.DimV%16 == 0 && d.DimK > 0
	padded := a.kernelRows(rows)
	groups := d.Batch * d.HeadsKV
	slices, width := decodeSlices(groups, kEnd)
	part := onlineSize(padded, dv)
	partials := make([]float32, groups*slices*part)
	parallelFor(groups*slices, func(t int) {
		gi, sl := t/slices, t%slices
		b, hv := gi/d.HeadsKV, gi%d.HeadsKV
		k0 := sl * width
		st := newOnline(partials[t*part:(t+1)*part], padded, dv)
		buf := getBuffer(padded*d.DimK + padded*attnBlockK)
		defer putBuffer(buf)
		qs, s := (*buf)[:padded*d.DimK], (*buf)[padded*d.DimK:]
		clear(qs[rows*d.DimK:])
		for hh := range g { // the group's query rows, one after the other
			for i := range d.SeqQ {
				copy(qs[(hh*d.SeqQ+i)*d.DimK:][:d.DimK], a.q.row(b, hv*g+hh, i))
			}
		}
		rs := rowSet{b: b, h0: hv * g, nh: g, i0: 0, rows: d.SeqQ, hv: hv}
		a.attend(rs, qs, max(d.DimK, 1), k0, min(k0+width, kEnd), st, s)
	})
	parallelFor(groups, func(gi int) {
		b, hv := gi/d.HeadsKV, gi%d.HeadsKV
		sts, acc := make([]online, slices), make([]float64, dv)
		for sl := range slices {
			t := gi*slices + sl
			sts[sl] = online{o: partials[t*part:][:padded*dv], mx: partials[t*part+padded*dv:][:padded],
				sum: partials[t*part+padded*dv+padded:][:padded]}
		}
		for r := range rows {
			combine(sts, r, a.out.row(b, hv*g+r/d.SeqQ, r%d.SeqQ), acc)
		}
	})
}

// combine writes into dst the softmax output of row r from the partial
// states of the slices: each slice's sum and output are rescaled to the
// largest maximum before they are added. A row no key was visible to gets
// zeros; NaN in any slice's sum or output propagates. acc is scratch of
// len(dst).
func combine(sts []online, r int, dst []float32, acc []float64) {
	dv := len(dst)
	clear(acc)
	m := negInf
	for _, st := range sts {
		m = max(m, st.mx[r])
	}
	var sum float64
	for _, st := range sts {
		var c float64
		if m != negInf {
			c = math.Exp(float64(st.mx[r] - m)) // 0 for a slice with nothing visible
		}
		sum += float64(st.sum[r]) * c
		for j, x := range st.o[r*dv : (r+1)*dv] {
			acc[j] += float64(x) * c
		}
	}
	if sum == 0 {
		clear(dst)
		return
	}
	for j := range dst {
		dst[j] = float32(acc[j] / sum)
	}
}

// decodeSlices cuts kEnd keys of each of groups (batch, K/V head) pairs into
// slices of whole key tiles, enough for four tasks per core where the keys
// allow; it returns the number of slices per group and their width (the last
// one may be shorter).
func decodeSlices(groups, kEnd int) (slices, width int) {
	tiles := (kEnd + attnBlockK - 1) / attnBlockK
	want := (4*runtime.GOMAXPROCS(0) + groups - 1) / groups
	slices = max(1, min(want, tiles))
	width = (tiles + slices - 1) / slices * attnBlockK
	return (kEnd + width - 1) / width, width
}
