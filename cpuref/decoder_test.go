package cpuref_test

import (
	"math"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// TestGatedFeedForwardHalfWeights: float16 and bfloat16 weights give bitwise
// the result of float32 weights holding the same values (sgemm converts B
// exactly as it packs it), on the decode shape (1 row) and a prefill one.
func TestGatedFeedForwardHalfWeights(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	r := newRand(14)
	const e, f = 40, 72
	for _, dt := range []backend.DType{backend.Float16, backend.BFloat16} {
		for _, rows := range []int{1, 13} {
			x := upload(t, be, uniform(r, rows*e), rows, e)
			res := upload(t, be, uniform(r, rows*e), rows, e)
			var w32, wh backend.GatedFFNWeights
			for _, p := range []struct {
				shape    []int
				dst32, h *backend.Tensor
			}{{[]int{f, e}, &w32.Gate, &wh.Gate}, {[]int{f, e}, &w32.Up, &wh.Up}, {[]int{e, f}, &w32.Down, &wh.Down}} {
				vals := uniform(r, e*f)
				var err error
				*p.h, err = be.UploadAs(dt, vals, p.shape...)
				noErr(t, err)
				exact := make([]float32, len(vals))
				noErr(t, be.Download(exact, *p.h))
				*p.dst32 = upload(t, be, exact, p.shape...)
			}
			opt := backend.FFNOptions{Activation: backend.SiLU, Residual: res}
			want, got := upload(t, be, make([]float32, rows*e), rows, e), upload(t, be, make([]float32, rows*e), rows, e)
			noErr(t, be.GatedFeedForward(want, x, w32, opt))
			noErr(t, be.GatedFeedForward(got, x, wh, opt))
			a, b := download(t, be, got), download(t, be, want)
			for i := range a {
				truef(t, math.Float32bits(a[i]) == math.Float32bits(b[i]),
					"%v weights, %d rows: element %d is %g, float32 weights of the same values give %g", dt, rows, i, a[i], b[i])
			}
		}
	}
}
