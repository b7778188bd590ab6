package gpu_test

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/gpu/internal/cl"
	"github.com/clattn/clattn/internal/stress"
)

// TestLiveObjectsReturnToZero runs every op, checks that the OpenCL objects
// they need are counted while they live (so the per-test check of gputest,
// which relies on cl.Live, sees buffers, programs, kernels, queues and
// contexts), leaves some tensors unreleased and checks that Close releases
// every object.
func TestLiveObjectsReturnToZero(t *testing.T) {
	d := gputest.Device(t)
	for _, c := range stress.Mixed(5, 1) {
		if _, err := c.Run(d); err != nil {
			t.Fatal(err)
		}
	}
	var kept []backend.Tensor // not released: Close must release them
	for range 5 {
		x, err := d.Upload(make([]float32, 64), 8, 8)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, x)
	}
	live := cl.Live()
	for kind, want := range map[string]int64{"context": 1, "command queue": 1, "mem": int64(len(kept)), "program": 1, "kernel": 1} {
		if live[kind] < want {
			t.Errorf("while open: %d live %s objects, want at least %d (all live: %v)", live[kind], kind, want, live)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if live := cl.Live(); len(live) != 0 {
		t.Errorf("after Close: OpenCL objects still alive: %v", live)
	}
	for _, x := range kept {
		if err := x.Release(); err != nil {
			t.Errorf("Release after Close: %v", err)
		}
	}
	if _, err := d.Alloc(1); !errors.Is(err, backend.ErrReleased) {
		t.Errorf("Alloc after Close: %v, want ErrReleased", err)
	}
}

// TestHeapFlat checks that the Go heap does not grow over 200 rounds of ops
// (each round: upload, Gemm, Attention, Softmax, LayerNorm, FeedForward,
// download, release) on the pure-Go backend and on OpenCL.
func TestHeapFlat(t *testing.T) {
	t.Run("cpu", func(t *testing.T) { heapFlat(t, cpuref.New()) })
	t.Run("opencl", func(t *testing.T) { heapFlat(t, gputest.Device(t)) })
}

func heapFlat(t *testing.T, b backend.Backend) {
	const rounds, warmup = 200, 20
	// Slack for what the runtime and the test allocate on their own; a leak of
	// one small object per op would add 200*6 objects.
	const slackBytes, slackObjects = 256 << 10, 600
	rng := rand.New(rand.NewPCG(8, 8))
	data := make([]float32, 48*48) // x uses the first 2*9*48, the weights all

	for i := range data {
		data[i] = 2*rng.Float32() - 1
	}
	out := make([]float32, 2*9*48)
	for range warmup {
		if err := heapRound(b, data, out); err != nil {
			t.Fatal(err)
		}
	}
	before := heapNow()
	for range rounds {
		if err := heapRound(b, data, out); err != nil {
			t.Fatal(err)
		}
	}
	after := heapNow()
	grew, objects := int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(after.HeapObjects)-int64(before.HeapObjects)
	t.Logf("%s: heap %d -> %d bytes (%+d), %d -> %d objects (%+d) over %d rounds",
		b.Name(), before.HeapAlloc, after.HeapAlloc, grew, before.HeapObjects, after.HeapObjects, objects, rounds)
	if grew > slackBytes || objects > slackObjects {
		t.Errorf("%s: the Go heap grew by %d bytes and %d objects over %d rounds (slack %d bytes, %d objects)",
			b.Name(), grew, objects, rounds, slackBytes, slackObjects)
	}
}

func heapNow() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// heapRound runs one op of each kind on x [2, 9, 48] (viewed as 3 heads of 16)
// with 48x48 weights from data, downloads into out and releases everything it made.
func heapRound(b backend.Backend, data, out []float32) (err error) {
	var ts []backend.Tensor
	keep := func(t backend.Tensor, e error) backend.Tensor {
		err = errors.Join(err, e)
		if t != nil {
			ts = append(ts, t)
		}
		return t
	}
	defer func() {
		for _, t := range ts {
			err = errors.Join(err, t.Release())
		}
	}()
	x := keep(b.Upload(data[:len(out)], 2, 9, 48))
	y := keep(b.Alloc(2, 9, 48))
	w := keep(b.Upload(data[:48*48], 48, 48))
	w2 := keep(b.Upload(data[:48*48], 48, 48))
	scores := keep(b.Alloc(2, 3, 9, 9))
	if err != nil {
		return err
	}
	heads, e := backend.PackedHeads(x, 3, 16, 0)
	if e != nil {
		return e
	}
	outHeads, e := backend.PackedHeads(y, 3, 16, 0)
	if e != nil {
		return e
	}
	causal := backend.AttentionOptions{Causal: backend.CausalTopLeft}
	return errors.Join(
		b.Gemm(backend.RowsOf(y), backend.RowsOf(x), backend.MatOf(w), backend.GemmOptions{TransB: true}),
		b.Attention(outHeads, heads, heads, heads, causal),
		b.Scores(scores, heads, heads, 0),
		b.Softmax(scores, scores, causal),
		b.LayerNorm(y, x, backend.LayerNormOptions{Residual: y}),
		b.FeedForward(y, x, backend.FFNWeights{W1: w, W2: w2}, backend.FFNOptions{Activation: backend.GELU}),
		b.Download(out, y),
	)
}
