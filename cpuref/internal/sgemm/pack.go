package sgemm

import "github.com/clattn/clattn/cpuref/internal/half"

// packA copies rows [i0, i0+mv) and columns [p0, p0+kb) of op(A) into dst as one micro-panel of mr rows
// of kb values each, rows beyond mv set to zero.
func packA(dst []float32, trans bool, a []float32, lda, i0, mv, p0, kb, mr int, transpose transposeFunc) {
	dst = dst[:mr*kb]
	if !trans {
		for ii := range mv {
			copy(dst[ii*kb:ii*kb+kb], a[(i0+ii)*lda+p0:(i0+ii)*lda+p0+kb])
		}
	} else {
		// op(A)[i, p] = a[p*lda+i]: A is stored with rows p.
		transpose(dst, kb, a[p0*lda+i0:], lda, kb, mv)
	}
	clear(dst[mv*kb:])
}

// packB copies rows [p0, p0+kb) and columns [j0, j0+cols) of op(B) into dst as consecutive micro-panels
// of kb rows of nr values each, the columns of the last panel beyond cols set to zero.
func packB(dst []float32, trans bool, b []float32, ldb, p0, kb, j0, cols, nr int, transpose transposeFunc) {
	panels := ceilDiv(cols, nr)
	dst = dst[:panels*kb*nr]
	if trans {
		// op(B)[p, j] = b[j*ldb+p]: B is stored with rows j.
		for q := range panels {
			j := q * nr
			nv := min(nr, cols-j)
			d := dst[q*kb*nr : (q+1)*kb*nr]
			transpose(d, nr, b[(j0+j)*ldb+p0:], ldb, nv, kb)
			if nv < nr {
				for p := range kb {
					clear(d[p*nr+nv : p*nr+nr])
				}
			}
		}
		return
	}
	// Row by row, so that B is read sequentially.
	for p := range kb {
		row := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+cols]
		for q := range panels {
			d := dst[(q*kb+p)*nr : (q*kb+p+1)*nr]
			n := copy(d, row[q*nr:])
			clear(d[n:])
		}
	}
}

// packBHalf is packB for a half-precision B: each row of B it reads is
// converted to float32 first (into rowsBuf, at least nr*kb values, for the
// transposed case; straight into the panels otherwise), so B is converted once
// per packing, never as a whole matrix.
func packBHalf(dst []float32, trans bool, b Half, ldb, p0, kb, j0, cols, nr int, transpose transposeFunc, rowsBuf []float32) {
	decode := half.Decode
	if b.BFloat16 {
		decode = half.DecodeBF16
	}
	panels := ceilDiv(cols, nr)
	dst = dst[:panels*kb*nr]
	if trans {
		// op(B)[p, j] = b[j*ldb+p]: convert the nv rows j of the panel, then transpose them.
		for q := range panels {
			j := q * nr
			nv := min(nr, cols-j)
			for r := range nv {
				row := (j0 + j + r) * ldb
				decode(rowsBuf[r*kb:(r+1)*kb], b.Bits[row+p0:row+p0+kb])
			}
			d := dst[q*kb*nr : (q+1)*kb*nr]
			transpose(d, nr, rowsBuf, kb, nv, kb)
			if nv < nr {
				for p := range kb {
					clear(d[p*nr+nv : p*nr+nr])
				}
			}
		}
		return
	}
	for p := range kb {
		row := b.Bits[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+cols]
		for q := range panels {
			d := dst[(q*kb+p)*nr : (q*kb+p+1)*nr]
			n := min(nr, len(row)-q*nr)
			decode(d[:n], row[q*nr:q*nr+n])
			clear(d[n:])
		}
	}
}

// transposeFunc sets dst[c*ldd+r] = src[r*lds+c] for r < rows and c < cols.
type transposeFunc func(dst []float32, ldd int, src []float32, lds, rows, cols int)

// transposeGo is the portable transposeFunc.
func transposeGo(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	for r := range rows {
		for c, v := range src[r*lds : r*lds+cols] {
			dst[c*ldd+r] = v
		}
	}
}
