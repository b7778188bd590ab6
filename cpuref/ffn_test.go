package cpuref_test

import (
	"math"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// TestFeedForwardChunks runs a FeedForward large enough to be computed in
// chunks of rows shared out between the cores (1100 rows at d_ff 2048: six to
// ten chunks, as the L2 cache sizes them, with the weights packed once for all
// of them) and checks
// it against the same rows run in calls of 30 rows, each one chunk whose
// products use every core, bit for bit: chunking must not change a row's
// result. x and the residual are checked unchanged.
func TestFeedForwardChunks(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	r := newRand(41)
	const rows, dm, dff = 1100, 24, 2048
	x, res := uniform(r, rows*dm), uniform(r, rows*dm)
	w1, b1, w2, b2 := uniform(r, dff*dm), uniform(r, dff), uniform(r, dm*dff), uniform(r, dm)
	w := backend.FFNWeights{W1: upload(t, be, w1, dff, dm), B1: upload(t, be, b1, dff), W2: upload(t, be, w2, dm, dff), B2: upload(t, be, b2, dm)}
	opt := func(res backend.Tensor) backend.FFNOptions {
		return backend.FFNOptions{Activation: backend.GELU, Residual: res}
	}
	xt, rt := upload(t, be, x, rows, dm), upload(t, be, res, rows, dm)
	out := upload(t, be, make([]float32, rows*dm), rows, dm)
	noErr(t, be.FeedForward(out, xt, w, opt(rt)))
	got := download(t, be, out)

	const part = 30 // rows per call: fewer than ffnMinChunkRows, one chunk each
	for lo := 0; lo < rows; lo += part {
		hi := min(lo+part, rows)
		xs, rs := upload(t, be, x[lo*dm:hi*dm], hi-lo, dm), upload(t, be, res[lo*dm:hi*dm], hi-lo, dm)
		os := upload(t, be, make([]float32, (hi-lo)*dm), hi-lo, dm)
		noErr(t, be.FeedForward(os, xs, w, opt(rs)))
		want := download(t, be, os)
		for i, v := range want {
			if g := got[lo*dm+i]; math.Float32bits(g) != math.Float32bits(v) {
				t.Fatalf("row %d, column %d: %v in one call, %v in calls of %d rows", lo+i/dm, i%dm, g, v, part)
			}
		}
	}
	for name, c := range map[string][2][]float32{"x": {x, download(t, be, xt)}, "residual": {res, download(t, be, rt)}} {
		for i := range c[0] {
			truef(t, math.Float32bits(c[0][i]) == math.Float32bits(c[1][i]), "%s changed at %d", name, i)
		}
	}
}
