package backendtest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/cpuref"
)

func TestVerifyCPURef(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	results := backendtest.Verify(b, false)
	require.NotEmpty(t, results)
	names := map[string]bool{}
	checked, numeric := 0, 0
	for _, r := range results {
		require.Truef(t, r.Passed, "%s: %v", r.Name, r.Messages)
		require.Falsef(t, names[r.Name], "%s recorded twice", r.Name)
		names[r.Name] = true
		require.Equal(t, r.Op, strings.SplitN(r.Name, "/", 2)[0])
		switch r.Op {
		case "Errors", "DecoderErrors", "Aliasing", "NilTensors": // errors and bitwise comparisons: no tolerance check
		default:
			numeric++
		}
		if r.Checks > 0 {
			checked++
			require.LessOrEqualf(t, r.MaxAbs, r.Limit, "%s", r.Name)
		}
	}
	require.True(t, names["Attention/b=1,h=1,sq=1,sk=1,d=1"], "leaf subtests are named by their path")
	require.True(t, names["Errors/Gemm/inner"])
	require.True(t, names["Aliasing/Attention/out=q=k=v"])
	require.Greater(t, checked, numeric/2)
}

// offsetAttention is a backend whose fused Attention adds delta to every output.
type offsetAttention struct {
	backend.Backend
	delta float32
}

func (o offsetAttention) Attention(out, q, k, v backend.Heads, opt backend.AttentionOptions) error {
	if err := o.Backend.Attention(out, q, k, v, opt); err != nil {
		return err
	}
	// out += ones * delta, one batch of heads at a time: a Gemm with beta 1 on the view.
	ones, err := o.Upload(filled(out.Seq, 1), out.Seq, 1)
	if err != nil {
		return err
	}
	defer ones.Release()
	deltas, err := o.Upload(filled(out.Dim, o.delta), 1, out.Dim)
	if err != nil {
		return err
	}
	defer deltas.Release()
	for b := range out.Batch {
		dst := backend.Mat{T: out.T, Batch: out.Heads, Rows: out.Seq, Cols: out.Dim,
			Offset: out.Offset + b*out.BatchStride, RowStride: out.SeqStride, BatchStride: out.HeadStride}
		if err := o.Gemm(dst, backend.MatOf(ones), backend.MatOf(deltas), backend.GemmOptions{Beta: 1}); err != nil {
			return err
		}
	}
	return nil
}

// panickyLayerNorm is a backend whose LayerNorm panics.
type panickyLayerNorm struct{ backend.Backend }

func (panickyLayerNorm) LayerNorm(dst, x backend.Tensor, opt backend.LayerNormOptions) error {
	panic("layer norm exploded")
}

func filled(n int, v float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = v
	}
	return x
}

func TestVerifyFindsWrongAttention(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	const delta = 1e-3
	results := backendtest.Verify(offsetAttention{Backend: b, delta: delta}, false)
	failed := 0
	for _, r := range results {
		// The grouped-query and KV-cache cases of the Decoding group run Attention too.
		attention := r.Op == "Attention" || strings.HasPrefix(r.Name, "Decoding/Attention/")
		wantFail := attention || r.Name == "ZeroSize/Attention/sk=0" || strings.HasPrefix(r.Name, "Decoding/KVCache/")
		require.Equalf(t, !wantFail, r.Passed, "%s: %v", r.Name, r.Messages)
		if r.Passed {
			continue
		}
		failed++
		require.NotEmpty(t, r.Messages, r.Name)
		if attention {
			require.Positivef(t, r.Checks, "%s", r.Name)
			require.InDeltaf(t, delta, r.MaxAbs, delta/100, "%s", r.Name)
			require.Greaterf(t, r.MaxAbs, r.Limit, "%s", r.Name)
			require.Contains(t, r.Messages[0], "max-abs=")
		}
	}
	require.Greater(t, failed, 5)
}

func TestVerifyCatchesPanics(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	results := backendtest.Verify(panickyLayerNorm{b}, false)
	ops := map[string]bool{}
	for _, r := range results {
		ops[r.Op] = true
		if r.Op != "LayerNorm" {
			continue
		}
		require.False(t, r.Passed, r.Name)
		require.Contains(t, r.Messages[0], "panic: layer norm exploded")
	}
	require.True(t, ops["LayerNorm"])
	require.True(t, ops["Errors"], "the suite goes on after a panic")
}
