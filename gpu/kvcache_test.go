package gpu_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/gputest"
)

// TestWriteKV writes rows into float32 and float16 caches through a strided
// source view and checks every element: the written rows rounded exactly as
// backend.Float16Bits rounds (ties to even, overflow to Inf, subnormals, NaN),
// every other position unchanged; then a write past the capacity fails.
func TestWriteKV(t *testing.T) {
	d := gputest.Device(t)
	const b, h, capacity, dim, n, pos = 2, 3, 10, 5, 4, 5
	rng := rand.New(rand.NewPCG(7, 9))
	// Values that stress the rounding: halfway between two halves, the largest
	// half's rounding boundary, subnormals, NaN.
	special := []float32{1 + 1.0/2048, 1 + 3.0/2048, 65519, 65520, -65520, 5.9604645e-08, 2.9802322e-08,
		8.940697e-08, float32(math.NaN()), float32(math.Inf(-1)), -0}
	src := make([]float32, b*h*n*dim)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
		if i < len(special) {
			src[i] = special[i]
		}
	}
	// The source as a view with a gap of NaN between its rows.
	const rowStride = dim + 2
	buf := make([]float32, b*h*n*rowStride)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	for r := range b * h * n {
		copy(buf[r*rowStride:], src[r*dim:(r+1)*dim])
	}
	st := mustUpload(t, d, buf, len(buf))
	view := backend.Heads{T: st, Batch: b, Heads: h, Seq: n, Dim: dim,
		BatchStride: h * n * rowStride, HeadStride: n * rowStride, SeqStride: rowStride}

	for _, dtype := range []backend.DType{backend.Float32, backend.Float16} {
		t.Run(dtype.String(), func(t *testing.T) {
			before := make([]float32, b*h*capacity*dim)
			for i := range before {
				before[i] = backend.RoundTo(dtype, float32(rng.NormFloat64()))
			}
			cache, err := d.UploadAs(dtype, before, b, h, capacity, dim)
			if err != nil {
				t.Fatal(err)
			}
			defer cache.Release()
			if err := d.WriteKV(cache, view, pos); err != nil {
				t.Fatal(err)
			}
			got := mustDownload(t, d, cache)
			for i, x := range got {
				bh, s, e := i/(capacity*dim), i/dim%capacity, i%dim
				want := before[i]
				if s >= pos && s < pos+n {
					want = backend.RoundTo(dtype, src[(bh*n+s-pos)*dim+e])
				}
				if math.Float32bits(x) != math.Float32bits(want) && !(x != x && want != want) {
					t.Fatalf("%v cache element %d (head %d, position %d, %d) is %g, want %g", dtype, i, bh, s, e, x, want)
				}
			}
			err = d.WriteKV(cache, view, capacity-n+1)
			if !errors.Is(err, backend.ErrShape) {
				t.Fatalf("write past capacity: %v, want ErrShape", err)
			}
		})
	}
}
