package stress

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/internal/oracle"
)

// TestRandomRuns runs many random cases of every op on the pure-Go backend:
// every case the generator makes must be a valid call; NaN in masked values or
// scores must not leak, so a case without non-finite inputs (NonFinite 0) has
// a finite output (gemm aside: its Beta-0 dst is NaN and must not be read, but
// alpha, beta and the data keep it finite too); some cases carry non-finite
// inputs, and some of those give non-finite outputs.
func TestRandomRuns(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	poisoned, propagated := 0, 0
	for _, op := range Ops {
		for range 20 {
			c, err := Random(rng, op)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Run(b)
			if err != nil {
				t.Fatal(err)
			}
			nonFinite := 0
			for _, x := range out {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					nonFinite++
				}
			}
			if c.NonFinite == 0 && nonFinite > 0 {
				t.Fatalf("%s %s: %d non-finite outputs from finite inputs", c.Op, c.Desc, nonFinite)
			}
			if c.NonFinite > 0 {
				poisoned++
				if nonFinite > 0 {
					propagated++
				}
			}
		}
	}
	if poisoned == 0 || propagated == 0 {
		t.Errorf("%d cases with non-finite inputs, %d with non-finite outputs: want some of each", poisoned, propagated)
	}
	if _, err := Random(rng, "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Random(nope) = %v, want an unknown-op error", err)
	}
}

func TestCompare(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	rows := Case{RowLen: 2}
	for _, tc := range []struct {
		name     string
		c        Case
		got, ref []float32
		wantOver int
	}{
		{"equal", rows, []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}, 0},
		// row scale 2: cap 4*(1e-5*2 + 1e-5*1) = 1.2e-4
		{"within", rows, []float32{1 + 1e-4, 2}, []float32{1, 2}, 0},
		{"over", rows, []float32{1 + 2e-4, 2}, []float32{1, 2}, 1},
		{"nan-same", rows, []float32{nan, 2}, []float32{nan, 2}, 0},
		{"nan-missing", rows, []float32{1, 2}, []float32{nan, 2}, 1},
		{"inf-sign", rows, []float32{-inf, 2}, []float32{inf, 2}, 1},
		{"length", rows, []float32{1}, []float32{1, 2}, 2},
		// one scale (max|V| = 10): cap 4*(1e-4 + 1e-5*0) = 4e-4
		{"scale", Case{Scale: 10}, []float32{3e-4}, []float32{0}, 0},
		// terms of magnitude 100 allow 4e-3 where the result cancelled to 1e-4
		{"terms", Case{RowLen: 1, terms: func() []float64 { return []float64{100, 100} }}, []float32{3e-3, 5e-3}, []float32{1e-4, 1e-4}, 1},
	} {
		if rep := Compare(tc.c, tc.got, tc.ref); rep.Over != tc.wantOver {
			t.Errorf("%s: over = %d, want %d (%v)", tc.name, rep.Over, tc.wantOver, rep)
		}
	}
}

// TestCompareMaxRatio: MaxRatio is the worst error as a fraction of its
// element's cap, over 1 exactly where an element is over.
func TestCompareMaxRatio(t *testing.T) {
	rows := Case{RowLen: 2} // row scale 2: cap 4*(1e-5*2 + 1e-5*|ref|)
	for _, tc := range []struct {
		got, ref []float32
		want     float64
	}{
		{[]float32{1, 2}, []float32{1, 2}, 0},
		{[]float32{1 + 6e-5, 2}, []float32{1, 2}, 6e-5 / 1.2e-4},
		{[]float32{1, 2 + 4e-4}, []float32{1, 2}, 4e-4 / 1.6e-4},
	} {
		rep := Compare(rows, tc.got, tc.ref)
		if math.Abs(rep.MaxRatio-tc.want) > 1e-3*tc.want || rep.OK() != (rep.MaxRatio <= 1) {
			t.Errorf("Compare(%v, %v): MaxRatio %g, want %g (%v)", tc.got, tc.ref, rep.MaxRatio, tc.want, rep)
		}
	}
}

func TestConcurrentCPU(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	Concurrent(t, b, Mixed(3, 1), 4)
}

// TestUnderflowRows: a NaN value is order-dependent only for the queries that
// see its key far below their row's maximum; a masked key's value or a key
// near the maximum is not.
func TestUnderflowRows(t *testing.T) {
	nan := float32(math.NaN())
	// One head, 3 queries, 3 keys, head dim 1: scores are q_i * k_j (scale 1).
	p := &oracle.Attention{B: 1, H: 1, Sq: 3, Sk: 3, Dk: 1, Dv: 2, Scale: 1,
		Q: []float32{1, 1, -1}, K: []float32{0, -100, 1}, V: []float32{1, 1, nan, 2, 3, 3},
		Causal: backend.CausalTopLeft}
	got := underflowRows(p)
	// Query 0 sees key 0 only (causal); query 1 sees key 1 at -100 below key 0:
	// order-dependent; query 2 sees key 1 at +100, its maximum: must propagate.
	want := []bool{false, false, true, true, false, false}
	if !slices.Equal(got, want) {
		t.Fatalf("underflowRows = %v, want %v", got, want)
	}
	c := Case{Op: "attention", Scale: 1, orderDependent: func() []bool { return got }}
	ref := []float32{1, 1, 0.5, 0.5, nan, nan}
	if r := Compare(c, []float32{1, 1, nan, nan, nan, nan}, ref); !r.OK() {
		t.Errorf("NaN in an order-dependent row counted: %v", r)
	}
	if r := Compare(c, []float32{1, 1, 0.5, 0.5, 2, 2}, ref); r.OK() {
		t.Error("a lost NaN in a row that must propagate it passed")
	}
}
