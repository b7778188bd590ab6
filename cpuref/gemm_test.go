package cpuref_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// TestGemmRowChunks runs a product with rows enough to be shared out between
// the cores in chunks of rows against B packed once (701 rows, a partial last
// chunk) and checks it against the same rows run in calls of 60 rows, which
// take the path that shares out columns, bit for bit: a row's result must not
// depend on the rows around it. The views have NaN-filled gaps between rows,
// which must stay NaN; the epilogue (beta, bias, GELU, residual) runs on both
// paths, and the inputs are checked unchanged.
func TestGemmRowChunks(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	const m, n, k, gap = 701, 1030, 70, 3
	for _, transB := range []bool{false, true} {
		t.Run(fmt.Sprintf("transB=%v", transB), func(t *testing.T) {
			r := newRand(5)
			withGaps := func(rows, cols int) []float32 {
				x := uniform(r, rows*(cols+gap))
				for i := range rows {
					for j := cols; j < cols+gap; j++ {
						x[i*(cols+gap)+j] = float32(math.NaN())
					}
				}
				return x
			}
			bRows, bCols := k, n
			if transB {
				bRows, bCols = n, k
			}
			a, b, c0, res, bias := withGaps(m, k), withGaps(bRows, bCols), withGaps(m, n), withGaps(m, n), uniform(r, n)
			view := func(x backend.Tensor, rows, cols int) backend.Mat {
				return backend.Mat{T: x, Batch: 1, Rows: rows, Cols: cols, RowStride: cols + gap, BatchStride: rows * (cols + gap)}
			}
			bt := upload(t, be, b, bRows, bCols+gap)
			biasT := upload(t, be, bias, n)
			// run computes rows [lo, hi) in one call and returns dst.
			run := func(lo, hi int) []float32 {
				rows := hi - lo
				at := upload(t, be, a[lo*(k+gap):hi*(k+gap)], rows, k+gap)
				ct := upload(t, be, c0[lo*(n+gap):hi*(n+gap)], rows, n+gap)
				rt := upload(t, be, res[lo*(n+gap):hi*(n+gap)], rows, n+gap)
				rv := view(rt, rows, n)
				noErr(t, be.Gemm(view(ct, rows, n), view(at, rows, k), view(bt, bRows, bCols), backend.GemmOptions{
					TransB: transB, Alpha: -1.5, Beta: 0.5, Bias: biasT, Activation: backend.GELU, Residual: &rv}))
				truef(t, sameBits32(download(t, be, at), a[lo*(k+gap):hi*(k+gap)]), "A changed")
				truef(t, sameBits32(download(t, be, rt), res[lo*(n+gap):hi*(n+gap)]), "the residual changed")
				return download(t, be, ct)
			}
			got := run(0, m)
			truef(t, sameBits32(download(t, be, bt), b), "B changed")
			const part = 60
			for lo := 0; lo < m; lo += part {
				hi := min(lo+part, m)
				want := run(lo, hi)
				for i, v := range want {
					g := got[lo*(n+gap)+i]
					truef(t, math.Float32bits(g) == math.Float32bits(v), "row %d, column %d: %v in one call, %v in calls of %d rows",
						lo+i/(n+gap), i%(n+gap), g, v, part)
					if i%(n+gap) >= n {
						truef(t, math.IsNaN(float64(g)), "row %d: the gap after the row was written", lo+i/(n+gap))
					}
				}
			}
		})
	}
}
