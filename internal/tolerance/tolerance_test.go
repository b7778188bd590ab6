package tolerance

import (
	"math"
	"testing"
)

func TestCheck(t *testing.T) {
	ref := []float64{1, -2, 0.5, 0}
	naive := []float32{1 + 1e-7, -2, 0.5, 0}
	cases := []struct {
		name string
		got  []float32
		ok   bool
	}{
		{"exact", []float32{1, -2, 0.5, 0}, true},
		{"within ratio rule", []float32{1 + 2e-7, -2, 0.5, 0}, true},
		{"over ratio rule", []float32{1 + 5e-6, -2, 0.5, 0}, false},
		{"NaN where ref is finite", []float32{float32(math.NaN()), -2, 0.5, 0}, false},
		{"short", []float32{1}, false},
	}
	for _, c := range cases {
		r := Check(c.got, ref, naive, 2)
		if r.OK() != c.ok {
			t.Errorf("%s: OK() = %v, want %v (%v)", c.name, r.OK(), c.ok, r)
		}
	}
}

func TestCheckNonFinite(t *testing.T) {
	ref := []float64{math.NaN(), math.Inf(-1), 1}
	if r := Check([]float32{float32(math.NaN()), float32(math.Inf(-1)), 1}, ref, nil, 1); !r.OK() {
		t.Errorf("matching NaN/Inf rejected: %v", r)
	}
	if r := Check([]float32{float32(math.NaN()), float32(math.Inf(1)), 1}, ref, nil, 1); r.OK() {
		t.Errorf("Inf of the wrong sign accepted: %v", r)
	}
}

func TestCheckRowsUsesRowScale(t *testing.T) {
	ref := []float64{1000, 0, 1e-3, 0}
	// An error of 1e-4 is fine next to 1000 (cap 1e-2) but not in a row of scale 1e-3.
	if r := CheckRows([]float32{1000, 1e-4, 1e-3, 0}, ref, nil, 2); !r.OK() {
		t.Errorf("row 0 error within its scale rejected: %v", r)
	}
	if r := CheckRows([]float32{1000, 0, 1e-3, 1e-4}, ref, nil, 2); r.OK() {
		t.Errorf("row 1 error beyond its scale accepted: %v", r)
	}
}

func TestCheckRowScalesWidensCancellingRows(t *testing.T) {
	// A row whose true value cancels to 1e-6 but whose terms are of size 1: an
	// error of 1e-7 is float32 rounding of the terms, not a bug.
	ref := []float64{1e-6, 1e-6}
	got := []float32{1e-6 + 1e-7, 1e-6}
	if r := CheckRows(got, ref, nil, 2); r.OK() {
		t.Errorf("row scale from ref alone should reject: %v", r)
	}
	if r := CheckRowScales(got, ref, nil, 2, []float64{1}); !r.OK() {
		t.Errorf("row scale 1 should accept: %v", r)
	}
}

func TestCheckRowsRatioHasNoCap(t *testing.T) {
	// A reference rounded through half precision: PyTorch's float32 is 5e-4 off,
	// and so is got, beyond the float32 cap but within 4x PyTorch's error.
	ref := []float64{1, 0.5}
	naive := []float32{1 + 5e-4, 0.5}
	got := []float32{1 - 5e-4, 0.5}
	if r := CheckRows(got, ref, naive, 2); r.OK() {
		t.Errorf("the float32 cap should reject: %v", r)
	}
	if r := CheckRowsRatio(got, ref, naive, 2); !r.OK() {
		t.Errorf("the ratio rule alone should accept: %v", r)
	}
	if r := CheckRowsRatio([]float32{1 + 3e-3, 0.5}, ref, naive, 2); r.OK() {
		t.Errorf("an error beyond 4x PyTorch's should fail: %v", r)
	}
	if r := CheckRowsRatio(got, ref, nil, 2); r.OK() {
		t.Errorf("no naive result: the ratio rule cannot be applied, want a failure: %v", r)
	}
}
