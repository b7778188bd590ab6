package stress

import (
	"fmt"
	"math"
)

// Relax is how much farther than the project's hard cap (package
// internal/tolerance: 1e-5*scale + 1e-5*|ref| for every element) a device may be
// from the pure-Go backend. The cap bounds the distance of one float32 result
// from the float64 truth; here both sides are float32 results, each with its own
// rounding, and neither is the truth, so the cap is relaxed by 4.
const Relax = 4

// Report is the outcome of comparing a device's output with the reference backend's.
type Report struct {
	N        int     // elements compared
	MaxAbs   float64 // largest |got - ref| over finite pairs
	MaxRatio float64 // largest |got - ref| / its element's cap: over 1 where an element is over
	Over     int     // elements over the cap or with mismatched NaN/Inf
	Mismatch string  // the first element over, "" if none
}

// OK reports whether every element is within its cap.
func (r Report) OK() bool { return r.Over == 0 }

func (r Report) String() string {
	s := fmt.Sprintf("n=%d max-abs=%.3g over=%d", r.N, r.MaxAbs, r.Over)
	if r.Mismatch != "" {
		s += " (first: " + r.Mismatch + ")"
	}
	return s
}

// Compare checks got against ref, the reference backend's output of c:
//
//	|got - ref| <= Relax * (1e-5*scale + 1e-5*|ref|)   for every element
//
// with scale c.Scale (max|V| for attention, 1 + max|input| for the positional
// encoding) or, where c.RowLen > 0, the largest finite |ref| of the element's
// row; for Gemm and FeedForward the scale is at least the magnitude of the terms
// summed into the element (|alpha| sum|a b| + |beta dst| + |bias| + |residual|):
// a float32 sum is accurate relative to its terms, and a row of one or two
// elements that cancel to nearly 0 (or sit in GELU's tail) is no scale. NaN and
// Inf must sit at the same positions (Inf with the same sign), except in the
// outputs c marks as order-dependent (see Case.orderDependent).
func Compare(c Case, got, ref []float32) Report {
	r := Report{N: len(ref)}
	if len(got) != len(ref) {
		r.Over = max(len(ref), 1)
		r.Mismatch = fmt.Sprintf("length: got %d, ref %d", len(got), len(ref))
		return r
	}
	scaleAt := func(int) float64 { return c.Scale }
	if c.RowLen > 0 {
		rows := make([]float64, (len(ref)+c.RowLen-1)/c.RowLen)
		for i, v := range ref {
			if a := math.Abs(float64(v)); finite(a) && a > rows[i/c.RowLen] {
				rows[i/c.RowLen] = a
			}
		}
		scaleAt = func(i int) float64 { return rows[i/c.RowLen] }
	}
	if c.terms != nil {
		terms, base := c.terms(), scaleAt
		scaleAt = func(i int) float64 { return math.Max(base(i), terms[i]) }
	}
	var orderDependent []bool
	if c.orderDependent != nil {
		orderDependent = c.orderDependent()
	}
	for i, v := range ref {
		g, w := float64(got[i]), float64(v)
		var bad bool
		if !finite(g) || !finite(w) {
			bad = !(math.IsNaN(g) && math.IsNaN(w)) && g != w && (orderDependent == nil || !orderDependent[i])
		} else {
			d, limit := math.Abs(g-w), Relax*(1e-5*scaleAt(i)+1e-5*math.Abs(w))
			r.MaxAbs = math.Max(r.MaxAbs, d)
			if limit > 0 {
				r.MaxRatio = math.Max(r.MaxRatio, d/limit)
			} else if d > 0 {
				r.MaxRatio = math.Inf(1)
			}
			bad = d > limit
		}
		if bad {
			r.Over++
			if r.Mismatch == "" {
				r.Mismatch = fmt.Sprintf("element %d: got %g, want %g", i, g, w)
			}
		}
	}
	return r
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
