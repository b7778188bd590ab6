package cpuref_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// The conformance suite checks the aliasing rules of package backend
// ("Aliasing") on every backend; these tests refuse, on the pure-Go backend,
// the two in-place calls it used to allow alone: an answer the OpenCL devices
// cannot give alike.

// TestAttentionInPlace: out may not overwrite q's columns of a packed QKV
// tensor (on a device, other work-groups would still read them); nothing is
// written.
func TestAttentionInPlace(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	const b, h, s, d = 2, 2, 40, 8
	packed := uniform(newRand(99), b*s*3*h*d)
	qkv := upload(t, be, packed, b, s, 3*h*d)
	q, err := backend.PackedHeads(qkv, h, d, 0)
	noErr(t, err)
	k, err := backend.PackedHeads(qkv, h, d, h*d)
	noErr(t, err)
	v, err := backend.PackedHeads(qkv, h, d, 2*h*d)
	noErr(t, err)
	err = be.Attention(q, q, k, v, backend.AttentionOptions{})
	truef(t, errors.Is(err, backend.ErrArgument), "in-place Attention: got %v, want ErrArgument", err)
	truef(t, slices.Equal(download(t, be, qkv), packed), "a refused Attention wrote its output")
}

// TestGemmInPlace: dst may be the residual but not A; nothing is written.
func TestGemmInPlace(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	r := newRand(7)
	const m, n = 37, 24
	x := uniform(r, m*n)
	xt := upload(t, be, x, m, n)
	wt := upload(t, be, uniform(r, n*n), n, n)
	xm := backend.MatOf(xt)
	err := be.Gemm(xm, xm, backend.MatOf(wt), backend.GemmOptions{Residual: &xm})
	truef(t, errors.Is(err, backend.ErrArgument), "Gemm with dst = a: got %v, want ErrArgument", err)
	truef(t, slices.Equal(download(t, be, xt), x), "a refused Gemm wrote dst")
}
