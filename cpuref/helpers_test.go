package cpuref_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/internal/tolerance"
)

var nan32 = float32(math.NaN())

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// uniform returns n values in [-1, 1).
func uniform(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*r.Float32() - 1
	}
	return x
}

func nans(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = nan32
	}
	return x
}

func upload(t *testing.T, be *cpuref.Backend, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := be.Upload(data, shape...)
	noErr(t, err)
	return x
}

func download(t *testing.T, be *cpuref.Backend, x backend.Tensor) []float32 {
	t.Helper()
	out := make([]float32, x.Shape().Numel())
	noErr(t, be.Download(out, x))
	return out
}

// sameBits reports whether a and b hold the same values, NaN equal to NaN.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// padded is a host buffer holding a strided view; every element outside the
// view is NaN, so a backend that reads it leaks NaN and one that writes it is caught.
type padded struct {
	data  []float32
	index []int // buffer index of each view element, in view order
}

// gaps returns the buffer's elements outside the view.
func (p padded) gaps() []float32 {
	in := make([]bool, len(p.data))
	for _, i := range p.index {
		in[i] = true
	}
	var g []float32
	for i, v := range p.data {
		if !in[i] {
			g = append(g, v)
		}
	}
	return g
}

// gather reads the view's elements out of buf (same layout as p.data).
func (p padded) gather(buf []float32) []float32 {
	out := make([]float32, len(p.index))
	for k, i := range p.index {
		out[k] = buf[i]
	}
	return out
}

// matLayout places batch x rows x cols in a NaN buffer with an offset and gaps
// between rows and matrices (pad) or contiguously; shared repeats one matrix
// for every batch index (batch stride 0).
func matLayout(values []float32, batch, rows, cols int, pad, shared bool) (padded, backend.Mat) {
	m := backend.Mat{Batch: batch, Rows: rows, Cols: cols, RowStride: cols}
	if pad {
		m.Offset, m.RowStride = 3, cols+2
	}
	m.BatchStride = rows*m.RowStride + map[bool]int{true: 5}[pad]
	nb := batch
	if shared {
		m.BatchStride, nb = 0, min(batch, 1)
	}
	size := m.Offset + nb*max(m.BatchStride, rows*m.RowStride) + map[bool]int{true: 4}[pad]
	p := padded{data: nans(size)}
	k := 0
	for b := range nb {
		for i := range rows {
			for j := range cols {
				at := m.Offset + b*m.BatchStride + i*m.RowStride + j
				p.data[at] = values[k]
				p.index = append(p.index, at)
				k++
			}
		}
	}
	return p, m
}

// headsLayout places a [B,H,S,D] array in a NaN buffer with an offset and gaps
// between heads, positions and batches (pad) or contiguously.
func headsLayout(values []float32, b, h, s, d int, pad bool) (padded, backend.Heads) {
	v := backend.Heads{Batch: b, Heads: h, Seq: s, Dim: d, HeadStride: d}
	if pad {
		v.Offset, v.HeadStride = 1, d+1
	}
	v.SeqStride = h*v.HeadStride + map[bool]int{true: 2}[pad]
	v.BatchStride = s*v.SeqStride + map[bool]int{true: 3}[pad]
	size := v.Offset + b*v.BatchStride + map[bool]int{true: 2}[pad]
	p := padded{data: nans(size)}
	k := 0
	for bi := range b {
		for hi := range h {
			for i := range s {
				for j := range d {
					at := v.Offset + bi*v.BatchStride + hi*v.HeadStride + i*v.SeqStride + j
					p.data[at] = values[k]
					p.index = append(p.index, at)
					k++
				}
			}
		}
	}
	return p, v
}

// requireClose applies the project's tolerance rule with a per-row scale.
func requireClose(t *testing.T, got []float32, ref []float64, rowLen int, what string) {
	t.Helper()
	rep := tolerance.CheckRows(got, ref, nil, rowLen)
	truef(t, rep.OK(), "%s: %v (worst at %d)", what, rep, rep.WorstAt)
}

// requireCloseScale applies the tolerance rule with one scale.
func requireCloseScale(t *testing.T, got []float32, ref []float64, scale float64, what string) {
	t.Helper()
	rep := tolerance.Check(got, ref, nil, scale)
	truef(t, rep.OK(), "%s: %v (worst at %d)", what, rep, rep.WorstAt)
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		if a := math.Abs(float64(v)); !math.IsNaN(a) && !math.IsInf(a, 0) && a > m {
			m = a
		}
	}
	return m
}

func act64(a backend.Activation, x float64) float64 {
	switch a {
	case backend.ReLU:
		return math.Max(x, 0)
	case backend.GELU:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}
	return x
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func truef(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}
