package soak

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/stress"
)

func soakFor(t *testing.T, d time.Duration, dev, ref backend.Backend, opt Options) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return Run(ctx, dev, ref, opt)
}

// TestSoakOpenCL soaks the first OpenCL device (PoCL in CI) against cpuref.
func TestSoakOpenCL(t *testing.T) {
	d := gputest.Device(t)
	ref := cpuref.New()
	r := soakFor(t, 5*time.Second, d, ref, Options{Seed: 1})
	t.Logf("%d runs in %v", r.Runs, r.Elapsed)
	for _, st := range r.Ops {
		t.Logf("%-18s %4d runs, max-abs %.3g", st.Op, st.Runs, st.MaxAbs)
	}
	if !r.OK() {
		t.Fatalf("%d mismatches:\n%s", r.Mismatches, strings.Join(r.Failures, "\n"))
	}
}

// skewed returns wrong results: every element of its downloads is moved by
// 1 + its magnitude, or set to 0 where it is NaN or infinite, so that a run
// mismatches even where the reference's first element is one the comparison
// excuses (a NaN of a row whose scores underflow).
type skewed struct{ backend.Backend }

func (s skewed) Download(dst []float32, t backend.Tensor) error {
	err := s.Backend.Download(dst, t)
	for i, x := range dst {
		if v := float64(x); math.IsNaN(v) || math.IsInf(v, 0) {
			dst[i] = 0
		} else {
			dst[i] += 1 + float32(math.Abs(v))
		}
	}
	return err
}

// TestSoakFindsMismatches soaks a backend that is off by one in every output
// against cpuref: every run mismatches, every op runs, the first failures are
// described and progress lines are written.
func TestSoakFindsMismatches(t *testing.T) {
	b := cpuref.New()
	var progress bytes.Buffer
	r := soakFor(t, 1500*time.Millisecond, skewed{b}, b, Options{Seed: 5, MaxFailures: 3, Progress: &progress, Every: 200 * time.Millisecond})
	if r.OK() || r.Mismatches != r.Runs {
		t.Fatalf("%d of %d runs mismatched, want all", r.Mismatches, r.Runs)
	}
	for _, st := range r.Ops {
		if st.Runs == 0 {
			t.Errorf("op %s never ran", st.Op)
		}
	}
	if !strings.Contains(progress.String(), "ops run") {
		t.Errorf("no progress line: %q", progress.String())
	}
	if len(r.Failures) != min(3, r.Runs) {
		t.Fatalf("%d failures described, want %d", len(r.Failures), min(3, r.Runs))
	}
	if !strings.Contains(r.Failures[0], "case 0 (seed 5): gemm") || !strings.Contains(r.Failures[0], "over=") {
		t.Errorf("failure %q does not name the case, op and report", r.Failures[0])
	}
}

// TestCaseReproducible: Case(seed, i) makes the same case every time.
func TestCaseReproducible(t *testing.T) {
	b := cpuref.New()
	for i := range 2 * len(stress.Ops) {
		c1, c2 := Case(9, i), Case(9, i)
		if c1.Desc != c2.Desc || c1.Op != stress.Ops[i%len(stress.Ops)] {
			t.Fatalf("case %d: %s %q vs %s %q", i, c1.Op, c1.Desc, c2.Op, c2.Desc)
		}
		o1, err1 := c1.Run(b)
		o2, err2 := c2.Run(b)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if rep := stress.Compare(c1, o1, o2); !rep.OK() || rep.MaxAbs != 0 {
			t.Fatalf("case %d differs from itself: %v", i, rep)
		}
	}
}

// TestSoakCases: Options.Cases stops the run after that many cases, the same
// ones each time, and MaxRatio says how near the cap they came.
func TestSoakCases(t *testing.T) {
	b := cpuref.New()
	n := 2 * len(stress.Ops)
	r := Run(context.Background(), b, b, Options{Seed: 1, Cases: n})
	if r.Runs != n || !r.OK() {
		t.Fatalf("%d runs, %d mismatches; want %d runs, none", r.Runs, r.Mismatches, n)
	}
	for _, st := range r.Ops {
		if st.Runs != 2 || st.MaxRatio != 0 {
			t.Errorf("%s: %d runs, max ratio %g; want 2 runs of a backend against itself, ratio 0", st.Op, st.Runs, st.MaxRatio)
		}
	}
	r = Run(context.Background(), skewed{b}, b, Options{Seed: 1, Cases: n})
	for _, st := range r.Ops {
		if st.MaxRatio <= 1 {
			t.Errorf("%s: max ratio %g of a wrong result; want over 1", st.Op, st.MaxRatio)
		}
	}
}
