package cpuref_test

import (
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
)

// The conformance suite gives every output its own tensor (and LayerNorm,
// FeedForward and Softmax in place); these tests alias outputs and inputs the
// way the model package calls the pure-Go backend.

// TestAttentionInPlace writes the output over q's columns of a packed QKV tensor.
func TestAttentionInPlace(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	r := newRand(99)
	const b, h, s, d = 2, 2, 40, 8
	p := &oracle.Attention{B: b, H: h, Sq: s, Sk: s, Dk: d, Dv: d,
		Q: uniform(r, b*h*s*d), K: uniform(r, b*h*s*d), V: uniform(r, b*h*s*d)}
	ref, naive, _ := p.Run()
	packed := make([]float32, b*s*3*h*d)
	for bi := range b {
		for hi := range h {
			for i := range s {
				row := packed[(bi*s+i)*3*h*d:]
				at := ((bi*h+hi)*s + i) * d
				copy(row[hi*d:][:d], p.Q[at:][:d])
				copy(row[(h+hi)*d:][:d], p.K[at:][:d])
				copy(row[(2*h+hi)*d:][:d], p.V[at:][:d])
			}
		}
	}
	qkv := upload(t, be, packed, b, s, 3*h*d)
	q, err := backend.PackedHeads(qkv, h, d, 0)
	noErr(t, err)
	k, err := backend.PackedHeads(qkv, h, d, h*d)
	noErr(t, err)
	v, err := backend.PackedHeads(qkv, h, d, 2*h*d)
	noErr(t, err)
	noErr(t, be.Attention(q, q, k, v, backend.AttentionOptions{}))
	out := download(t, be, qkv)
	got := make([]float32, 0, len(ref))
	for bi := range b {
		for hi := range h {
			for i := range s {
				got = append(got, out[(bi*s+i)*3*h*d+hi*d:][:d]...)
			}
		}
	}
	rep := tolerance.Check(got, ref, naive, tolerance.MaxAbs(p.V))
	truef(t, rep.OK(), "in-place Attention: %v", rep)
}

// TestGemmInPlace computes dst = dst*W + dst: a and the residual alias dst.
func TestGemmInPlace(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	r := newRand(7)
	const m, n = 37, 24
	x := uniform(r, m*n)
	w := uniform(r, n*n)
	xt := upload(t, be, x, m, n)
	wt := upload(t, be, w, n, n)
	xm := backend.MatOf(xt)
	noErr(t, be.Gemm(xm, xm, backend.MatOf(wt), backend.GemmOptions{Residual: &xm}))
	view := backend.Mat{Batch: 1, Rows: m, Cols: n, RowStride: n}
	ref, naive := (&oracle.Gemm{A: x, B: w, Res: x, AV: view, BV: backend.Mat{Batch: 1, Rows: n, Cols: n, RowStride: n},
		RV: view, Batch: 1, M: m, N: n, K: n}).Run()
	rep := tolerance.CheckRows(download(t, be, xt), ref, naive, n)
	truef(t, rep.OK(), "in-place Gemm: %v", rep)
}
