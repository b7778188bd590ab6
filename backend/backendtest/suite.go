package backendtest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
)

// Run runs the whole conformance suite against b. b stays open; the caller closes it.
func Run(t *testing.T, b backend.Backend, opts ...Option) {
	t.Helper()
	run(testingT{t}, b, true, nil, opts)
}

// RunShort runs the suite with fewer shapes (every op, mask kind and edge case,
// but only the smaller shapes of each table), for slow devices.
func RunShort(t *testing.T, b backend.Backend, opts ...Option) {
	t.Helper()
	run(testingT{t}, b, false, nil, opts)
}

// RunOps runs the whole suite's tests of the named operations only (the
// top-level subtest names of Run: "Gemm", "FeedForward", ...), for a backend
// set up to take one particular code path.
func RunOps(t *testing.T, b backend.Backend, ops ...string) {
	t.Helper()
	run(testingT{t}, b, true, ops, nil)
}

// tester is what the suite needs of a test: *testing.T through testingT under go test,
// a recorder under Verify.
type tester interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	Name() string
	Run(name string, f func(tester)) bool
}

// testingT adapts *testing.T to tester.
type testingT struct{ *testing.T }

func (t testingT) Run(name string, f func(tester)) bool {
	return t.T.Run(name, func(t *testing.T) { f(testingT{t}) })
}

// suite is one run of the conformance suite against one backend.
type suite struct {
	b    backend.Backend
	full bool
}

func run(t tester, b backend.Backend, full bool, only []string, opts []Option) {
	s := &suite{b: b, full: full}
	for _, op := range []struct {
		name string
		test func(tester)
	}{
		{"Tensors", s.testTensors},
		{"Gemm", s.testGemm},
		{"Scores", s.testScores},
		{"Softmax", s.testSoftmax},
		{"AttendValues", s.testAttendValues},
		{"Attention", s.testAttention},
		{"LayerNorm", s.testLayerNorm},
		{"FusedNorm", s.testFusedNorm},
		{"FeedForward", s.testFeedForward},
		{"PositionalEncoding", s.testPositional},
		{"RMSNorm", s.testRMSNorm},
		{"Rotary", s.testRotary},
		{"GatedFeedForward", s.testGatedFeedForward},
		{"DecoderErrors", s.testDecoderErrors},
		{"ZeroSize", s.testZeroSize},
		{"Errors", s.testErrors},
		{"Aliasing", s.testAliasing},
		{"NilTensors", s.testNilTensors},
		{"Decoding", s.testDecoding},
	} {
		if op.name == "Decoding" && slices.Contains(opts, WithoutDecoding) {
			continue
		}
		if len(only) == 0 || slices.Contains(only, op.name) {
			t.Run(op.name, op.test)
		}
	}
}

// env is the per-subtest state: the backend, a random source seeded from the
// subtest's name (printed on failure), and the inputs to verify after the ops.
type env struct {
	t      tester
	b      backend.Backend
	seed   uint64
	rng    *rand.Rand
	inputs []input
}

// input is a tensor an operation must leave unchanged, with the data uploaded.
type input struct {
	name string
	t    backend.Tensor
	data []float32
}

func (s *suite) env(t tester) *env {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	seed := h.Sum64()
	return &env{t: t, b: s.b, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// upload makes a tensor of data, released when the test ends.
func (e *env) upload(data []float32, shape ...int) backend.Tensor {
	e.t.Helper()
	x, err := e.b.Upload(data, shape...)
	if err != nil {
		e.t.Fatalf("Upload %v: %v", backend.Shape(shape), err)
	}
	e.t.Cleanup(func() {
		if err := x.Release(); err != nil {
			e.t.Errorf("Release %v: %v", backend.Shape(shape), err)
		}
	})
	return x
}

// input uploads data and remembers it, so that checkInputs can verify that no
// operation wrote to it.
func (e *env) input(name string, data []float32, shape ...int) backend.Tensor {
	e.t.Helper()
	x := e.upload(data, shape...)
	e.inputs = append(e.inputs, input{name: name, t: x, data: data})
	return x
}

// inputAs is input for a tensor of dtype d; data must hold values of d (see
// roundTo), so that the download compares bitwise.
func (e *env) inputAs(name string, d backend.DType, data []float32, shape ...int) backend.Tensor {
	e.t.Helper()
	if d == backend.Float32 {
		return e.input(name, data, shape...)
	}
	x, err := e.b.UploadAs(d, data, shape...)
	if err != nil {
		e.t.Fatalf("UploadAs %v %v: %v", d, backend.Shape(shape), err)
	}
	e.t.Cleanup(func() {
		if err := x.Release(); err != nil {
			e.t.Errorf("Release %v: %v", backend.Shape(shape), err)
		}
	})
	e.inputs = append(e.inputs, input{name: name, t: x, data: data})
	return x
}

// roundTo rounds x in place to the values dtype d stores and returns it.
func roundTo(d backend.DType, x []float32) []float32 {
	for i, v := range x {
		x[i] = backend.RoundTo(d, v)
	}
	return x
}

// nanOutput uploads a NaN-filled tensor, so that any element an op fails to
// write shows up.
func (e *env) nanOutput(shape ...int) backend.Tensor {
	e.t.Helper()
	return e.upload(filled(backend.Shape(shape).Numel(), nan32), shape...)
}

func (e *env) download(x backend.Tensor) []float32 {
	e.t.Helper()
	dst := make([]float32, x.Shape().Numel())
	if err := e.b.Download(dst, x); err != nil {
		e.t.Fatalf("Download %v: %v", x.Shape(), err)
	}
	return dst
}

// checkInputs downloads every input and compares it bitwise with what was uploaded.
func (e *env) checkInputs() {
	e.t.Helper()
	for _, in := range e.inputs {
		if i := firstBitDiff(e.download(in.t), in.data); i >= 0 {
			e.t.Errorf("input %s %v changed at element %d (seed %#x)", in.name, in.t.Shape(), i, e.seed)
		}
	}
}

// must fails the test now if err is not nil.
func (e *env) must(op string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", op, err)
	}
}

// checkScaled applies the tolerance rule with one scale (attention outputs: max|V|).
func (e *env) checkScaled(what string, got []float32, ref []float64, naive []float32, scale float64) {
	e.t.Helper()
	e.report(what, tolerance.Check(got, ref, naive, scale), got, ref)
}

// checkScores applies the tolerance rule to scores of p, each row judged against
// the size of its dot products' terms.
func (e *env) checkScores(what string, p *oracle.Attention, got []float32, ref []float64, naive []float32) {
	e.t.Helper()
	e.report(what, tolerance.CheckRowScales(got, ref, naive, p.Sk, p.ScoreScales()), got, ref)
}

// checkRows applies the tolerance rule with the scale of each row of rowLen elements.
func (e *env) checkRows(what string, got []float32, ref []float64, naive []float32, rowLen int) {
	e.t.Helper()
	e.report(what, tolerance.CheckRows(got, ref, naive, rowLen), got, ref)
}

func (e *env) report(what string, r tolerance.Report, got []float32, ref []float64) {
	e.t.Helper()
	if rec, ok := e.t.(*recorder); ok {
		rec.check(r)
	}
	if r.OK() {
		return
	}
	worst := ""
	if r.WorstAt >= 0 {
		worst = fmt.Sprintf("; largest error at element %d: got %g, want %g", r.WorstAt, got[r.WorstAt], ref[r.WorstAt])
	}
	e.t.Errorf("%s: %v%s (test %s, seed %#x)", what, r, worst, e.t.Name(), e.seed)
}

// checkSame verifies that two results of the same call are bitwise equal.
func (e *env) checkSame(what string, a, b []float32) {
	e.t.Helper()
	if i := firstBitDiff(a, b); i >= 0 {
		e.t.Errorf("%s: two runs differ at element %d: %g vs %g (seed %#x)", what, i, a[i], b[i], e.seed)
	}
}

// repeatable runs a call twice through run, which makes a fresh output, calls
// and downloads it, checks that the two results are bitwise equal, and
// returns the first.
func (e *env) repeatable(what string, run func() []float32) []float32 {
	e.t.Helper()
	a, b := run(), run()
	e.checkSame(what, a, b)
	return a
}

// checkZeroRows verifies that every row marked dead (all keys masked) is exactly zero.
func (e *env) checkZeroRows(what string, got []float32, dead []bool, rowLen int) {
	e.t.Helper()
	for r, d := range dead {
		if !d {
			continue
		}
		for j, v := range got[r*rowLen:][:rowLen] {
			if v != 0 {
				e.t.Errorf("%s: row %d has every key masked but element %d is %g, want exactly 0 (seed %#x)",
					what, r, j, v, e.seed)
				return
			}
		}
	}
}

var nan32 = float32(math.NaN())

func filled(n int, v float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = v
	}
	return x
}

// uniform returns n values drawn uniformly from [lo, hi).
func (e *env) uniform(n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*e.rng.Float32()
	}
	return x
}

// firstBitDiff is the first index where a and b differ bitwise, -1 if none.
func firstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}
