// Package soak runs random operations on a device for a while and checks each
// result against the pure-Go reference backend: the engine of gpubench soak.
//
// Every case comes from package stress (random shapes with odd sizes, Sq != Sk,
// head dims 1..128, every mask kind, NaN at masked positions) and is run on
// both backends; the outputs are compared with stress.Compare, the project's
// elementwise cap (internal/tolerance) relaxed by stress.Relax because the
// reference is itself a float32 result, not the float64 truth.
package soak

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/stress"
)

// Options configure Run.
type Options struct {
	// Seed makes the run reproducible: case i uses the PCG stream (Seed, i).
	Seed uint64
	// Progress receives a line every Every (default 5 s); nil for none.
	Progress io.Writer
	Every    time.Duration
	// MaxFailures is how many failures are described in Result.Failures (default 20).
	MaxFailures int
	// Cases stops the run after this many cases (0: when ctx is done), so that
	// a short check runs the same cases on every device.
	Cases int
}

// OpStats are the counts of one op.
type OpStats struct {
	Op         string
	Runs       int
	Mismatches int     // outputs over the cap, and errors of either backend
	MaxAbs     float64 // largest |device - reference| over every run
	MaxRatio   float64 // largest |device - reference| / its element's cap (stress.Compare): over 1 where one is over
}

// Result is the outcome of a soak run.
type Result struct {
	Device, Reference string
	Elapsed           time.Duration
	Runs, Mismatches  int
	Ops               []OpStats // in the order of stress.Ops
	// Failures describe the first mismatches: case number, op, shapes, and what
	// went wrong; Seed and the case number reproduce one (see Case).
	Failures []string
}

// OK reports whether no run mismatched.
func (r Result) OK() bool { return r.Mismatches == 0 }

// Case returns case i of a run with seed: the op is stress.Ops[i % len(stress.Ops)].
func Case(seed uint64, i int) stress.Case {
	return stress.Nth(rand.New(rand.NewPCG(seed, uint64(i))), i)
}

// Run runs cases 0, 1, 2, ... on dev and ref until ctx is done, comparing each
// output of dev with ref's.
func Run(ctx context.Context, dev, ref backend.Backend, opt Options) Result {
	if opt.Every <= 0 {
		opt.Every = 5 * time.Second
	}
	if opt.MaxFailures <= 0 {
		opt.MaxFailures = 20
	}
	r := Result{Device: dev.Name(), Reference: ref.Name(), Ops: make([]OpStats, len(stress.Ops))}
	for i, op := range stress.Ops {
		r.Ops[i].Op = op
	}
	start := time.Now()
	next := start.Add(opt.Every)
	for i := 0; ctx.Err() == nil && (opt.Cases <= 0 || i < opt.Cases); i++ {
		c := Case(opt.Seed, i)
		st := &r.Ops[i%len(stress.Ops)]
		st.Runs++
		r.Runs++
		if msg := runOne(c, dev, ref, st); msg != "" {
			st.Mismatches++
			r.Mismatches++
			if len(r.Failures) < opt.MaxFailures {
				r.Failures = append(r.Failures, fmt.Sprintf("case %d (seed %d): %s %s: %s", i, opt.Seed, c.Op, c.Desc, msg))
			}
		}
		if now := time.Now(); opt.Progress != nil && now.After(next) {
			fmt.Fprintf(opt.Progress, "soak: %s, %d ops run, %d mismatches\n", now.Sub(start).Round(time.Second), r.Runs, r.Mismatches)
			next = now.Add(opt.Every)
		}
	}
	r.Elapsed = time.Since(start)
	return r
}

// runOne runs c on both backends and returns what went wrong, "" if nothing.
func runOne(c stress.Case, dev, ref backend.Backend, st *OpStats) string {
	want, err := c.Run(ref)
	if err != nil {
		return "reference: " + err.Error()
	}
	got, err := c.Run(dev)
	if err != nil {
		return "device: " + err.Error()
	}
	rep := stress.Compare(c, got, want)
	st.MaxAbs = math.Max(st.MaxAbs, rep.MaxAbs)
	st.MaxRatio = math.Max(st.MaxRatio, rep.MaxRatio)
	if !rep.OK() {
		return rep.String()
	}
	return ""
}
