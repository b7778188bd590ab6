package cpuref

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-87.3); x < 88.7; x += 0.0013 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 2.5e-7 {
		t.Fatalf("expf: worst relative error %g", worst)
	}
	for _, c := range []struct{ x, want float32 }{
		{float32(math.Inf(-1)), 0}, {-104, 0}, {0, 1}, {float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		if got := expf(c.x); got != c.want {
			t.Errorf("expf(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := expf(float32(math.NaN())); got == got {
		t.Errorf("expf(NaN) = %v", got)
	}
	// Subnormal results, as float32 hardware gives them: within one unit of
	// the smallest subnormal (2^-149) of e^x rounded to float32, never 0 while
	// e^x rounds to at least that unit.
	for x := float32(-87.3); x > -103.9; x -= 0.0017 {
		want := float32(math.Exp(float64(x)))
		got := expf(x)
		if diff := math.Abs(float64(got) - float64(want)); diff > 0x1p-149 || got == 0 {
			t.Fatalf("expf(%v) = %g, want %g", x, got, want)
		}
	}
}

func TestExpShiftRowMax(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for n := range 40 {
		x := make([]float32, n)
		for j := range x {
			x[j] = float32(j%7)*3.1 - 9 - float32(j)*2.5
		}
		if n > 3 {
			x[3] = -inf
		}
		if n > 17 {
			x[17] = -200
		}
		if n > 23 { // weights in the subnormal range
			x[21], x[22], x[23] = -95, -87.5, -103.5
		}
		wantMax := negInf
		for _, v := range x {
			wantMax = max(wantMax, v)
		}
		if n > 11 {
			x[11] = nan // ignored by rowMax, NaN through expShift
		}
		if got := rowMax(x); got != wantMax {
			t.Fatalf("n=%d: rowMax = %v, want %v", n, got, wantMax)
		}
		m := wantMax
		want := make([]float32, n)
		var wantSum float64
		for j, v := range x {
			want[j] = expf(v - m)
			wantSum += float64(want[j])
		}
		sum := expShift(x, m)
		for j := range x {
			w, g := float64(want[j]), float64(x[j])
			if math.IsNaN(w) != math.IsNaN(g) || math.Abs(g-w) > 3e-7*math.Abs(w) {
				t.Fatalf("n=%d j=%d: expShift = %v, want %v", n, j, g, w)
			}
		}
		if (n > 11) != math.IsNaN(float64(sum)) || (n <= 11 && math.Abs(float64(sum)-wantSum) > 1e-6*wantSum) {
			t.Fatalf("n=%d: sum %v, want %v", n, sum, wantSum)
		}
	}
	if got := rowMax([]float32{nan, nan, nan, nan, nan, nan, nan, nan, nan}); got != negInf {
		t.Fatalf("rowMax of NaN = %v", got)
	}
}

func TestGELU(t *testing.T) {
	for x := float32(-16); x < 12; x += 0.000731 {
		want := 0.5 * float64(x) * math.Erfc(-float64(x)/math.Sqrt2)
		got := float64(gelu(x))
		// Within half a float32 ulp of the value, plus the approximations'
		// 1e-10 of it (erf's polynomial, erfc's tail tables), plus half the
		// smallest subnormal where GELU underflows (below x = -13).
		if d := math.Abs(got - want); d > 0x1p-24*math.Abs(got)+1e-10*math.Abs(want)+math.SmallestNonzeroFloat32/2 {
			t.Fatalf("gelu(%v) = %v, want %v", x, got, want)
		}
	}
	// NaN stays NaN; -Inf gives NaN (-Inf * 0) as the exact formula does.
	for _, x := range []float64{math.NaN(), math.Inf(-1)} {
		if g := gelu(float32(x)); g == g {
			t.Fatalf("gelu(%v) = %v, want NaN", x, g)
		}
	}
	if g := gelu(float32(math.Inf(1))); !math.IsInf(float64(g), 1) {
		t.Fatalf("gelu(+Inf) = %v", g)
	}
}
