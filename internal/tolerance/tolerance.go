// Package tolerance is the project's one cross-check rule:
//
//	max|got - ref64| <= 4*max|naive32 - ref64| + 1e-6*scale        (ratio rule)
//	|got - ref64|    <= 1e-5*scale + 1e-5*|ref64|  for every element (hard cap)
//
// ref64 is a float64 oracle, naive32 a straightforward float32 computation of the
// same thing (PyTorch's float32 output for golden cases). NaN and Inf must sit at
// exactly the same positions, with the same sign for Inf.
package tolerance

import (
	"fmt"
	"math"
)

// Report is the outcome of one comparison.
type Report struct {
	N        int     // elements compared
	MaxAbs   float64 // largest |got - ref|
	MaxRel   float64 // largest |got - ref| / max(|ref|, tiny)
	Limit    float64 // the ratio-rule limit on MaxAbs
	Over     int     // elements over their limit (cap or ratio rule) or with mismatched NaN/Inf
	WorstAt  int     // index of the largest error, -1 if none
	Mismatch string  // first NaN/Inf mismatch, "" if none
}

// OK reports whether every element is within its limit.
func (r Report) OK() bool { return r.Over == 0 }

func (r Report) String() string {
	s := fmt.Sprintf("n=%d max-abs=%.3g max-rel=%.3g limit=%.3g over=%d", r.N, r.MaxAbs, r.MaxRel, r.Limit, r.Over)
	if r.Mismatch != "" {
		s += " (" + r.Mismatch + ")"
	}
	return s
}

// Check compares got with ref under one scale for every element (for attention,
// max|V|). naive may be nil, leaving only the hard cap.
func Check(got []float32, ref []float64, naive []float32, scale float64) Report {
	return check(got, ref, naive, func(int) float64 { return scale }, true)
}

// MaxAbs is the largest finite |x|: the scale of attention outputs is MaxAbs(V).
func MaxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		if a := math.Abs(float64(v)); finite(a) {
			m = math.Max(m, a)
		}
	}
	return m
}

// CheckRows compares got with ref where each row of rowLen elements has its own
// scale, max|ref| over that row (LayerNorm, GEMM, FFN outputs).
func CheckRows(got []float32, ref []float64, naive []float32, rowLen int) Report {
	return CheckRowScales(got, ref, naive, rowLen, nil)
}

// CheckRowScales is CheckRows where the caller knows a larger natural scale of
// some rows: each row's scale is max(rowScale[r], max|ref| over the row). A dot
// product whose terms cancel (scores of equal keys, say) is judged against the
// size of its terms, sum |q_d k_d|, not against its tiny result.
func CheckRowScales(got []float32, ref []float64, naive []float32, rowLen int, rowScale []float64) Report {
	return checkRows(got, ref, naive, rowLen, rowScale, true)
}

// CheckRowsRatio is CheckRows with the ratio rule alone, for outputs whose
// reference rounds an intermediate result to half precision (a float16 KV
// cache): a float32 computation of such a value may land on the other side of
// a half's rounding boundary, an error of one half ulp (5e-4 relative) that no
// float32 cap bounds, while PyTorch's float32 result, which rounds the same
// intermediates, sets the ratio limit. naive must not be nil.
func CheckRowsRatio(got []float32, ref []float64, naive []float32, rowLen int) Report {
	if naive == nil {
		return Report{N: len(ref), Over: max(len(ref), 1), WorstAt: -1, Mismatch: "no naive float32 result for the ratio rule"}
	}
	return checkRows(got, ref, naive, rowLen, nil, false)
}

func checkRows(got []float32, ref []float64, naive []float32, rowLen int, rowScale []float64, hardCap bool) Report {
	if rowLen <= 0 {
		rowLen = max(len(ref), 1)
	}
	scales := make([]float64, (len(ref)+rowLen-1)/rowLen)
	copy(scales, rowScale)
	for i, v := range ref {
		if a := math.Abs(v); !math.IsInf(a, 0) && !math.IsNaN(a) && a > scales[i/rowLen] {
			scales[i/rowLen] = a
		}
	}
	return check(got, ref, naive, func(i int) float64 { return scales[i/rowLen] }, hardCap)
}

func check(got []float32, ref []float64, naive []float32, scaleAt func(int) float64, hardCap bool) Report {
	r := Report{N: len(ref), WorstAt: -1}
	if len(got) != len(ref) || (naive != nil && len(naive) != len(ref)) {
		r.Over = max(len(ref), 1)
		r.Mismatch = fmt.Sprintf("length: got %d, ref %d, naive %d", len(got), len(ref), len(naive))
		return r
	}
	maxScale, naiveErr := 0.0, 0.0
	for i, v := range ref {
		maxScale = math.Max(maxScale, scaleAt(i))
		if naive != nil && finite(v) {
			naiveErr = math.Max(naiveErr, math.Abs(float64(naive[i])-v))
		}
	}
	r.Limit = math.Inf(1)
	if naive != nil {
		r.Limit = 4*naiveErr + 1e-6*maxScale
	}
	for i, v := range ref {
		g := float64(got[i])
		if !finite(v) || !finite(g) {
			if !sameNonFinite(g, v) {
				r.Over++
				if r.Mismatch == "" {
					r.Mismatch = fmt.Sprintf("element %d: got %g, want %g", i, g, v)
				}
			}
			continue
		}
		d := math.Abs(g - v)
		if d > r.MaxAbs || r.WorstAt < 0 {
			r.MaxAbs, r.WorstAt = math.Max(d, r.MaxAbs), i
		}
		r.MaxRel = math.Max(r.MaxRel, d/math.Max(math.Abs(v), 1e-30))
		if (hardCap && d > 1e-5*scaleAt(i)+1e-5*math.Abs(v)) || d > r.Limit {
			r.Over++
		}
	}
	return r
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func sameNonFinite(g, v float64) bool {
	if math.IsNaN(v) {
		return math.IsNaN(g)
	}
	return g == v // both infinite with the same sign
}
