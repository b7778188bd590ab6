package backend

import (
	"math"
	"testing"
)

// halfValue64 is the value of binary16 bits h computed from the definition.
func halfValue64(h uint16) float64 {
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	v := math.Ldexp(m, -24) // subnormal
	if e == 0x1f {
		v = math.Inf(1)
		if m != 0 {
			v = math.NaN()
		}
	} else if e > 0 {
		v = math.Ldexp(1024+m, e-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// TestFloat16Exhaustive checks every half: its value, that it converts back
// to itself, and that the midpoints to its neighbour round to the even one
// while a float32 ulp either side of a midpoint rounds to the nearer.
func TestFloat16Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		want := halfValue64(h)
		got := Float16Value(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || Float16Bits(got)&0x7e00 != 0x7e00 || Float16Bits(got)&0x8000 != h&0x8000 {
				t.Fatalf("NaN %#04x: value %v, back %#04x", h, got, Float16Bits(got))
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Fatalf("Float16Value(%#04x) = %v, want %v", h, got, want)
		}
		if back := Float16Bits(got); back != h {
			t.Fatalf("Float16Bits(%v) = %#04x, want %#04x", got, back, h)
		}
		if h&0x7fff >= 0x7bff { // the largest finite half and Inf: no next half
			continue
		}
		next := h + 1                                  // the next half away from zero
		mid := float32((want + halfValue64(next)) / 2) // exact: 12 significant bits
		even := h
		if h&1 == 1 {
			even = next
		}
		if got := Float16Bits(mid); got != even {
			t.Fatalf("midpoint %v of %#04x and %#04x rounds to %#04x, want %#04x", mid, h, next, got, even)
		}
		below, above := math.Nextafter32(mid, 0), math.Nextafter32(mid, float32(math.Inf(1))*mid)
		if got := Float16Bits(below); got != h {
			t.Fatalf("%v just inside %#04x rounds to %#04x", below, h, got)
		}
		if got := Float16Bits(above); got != next {
			t.Fatalf("%v just past the midpoint rounds to %#04x, want %#04x", above, got, next)
		}
	}
}

func TestFloat16Limits(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65504, 0x7bff}, {65519.99, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{0x1p-24, 0x0001}, {0x1p-25, 0x0000}, {0x1.000002p-25, 0x0001}, {-0x1p-26, 0x8000}, {0x1p-149, 0},
		{0x1.ff8p-15, 0x03ff}, {0x1.ffap-15, 0x03ff}, {0x1.ffcp-15, 0x0400}, {1, 0x3c00}, {-2, 0xc000}, {0.1, 0x2e66},
	} {
		if got := Float16Bits(c.f); got != c.want {
			t.Errorf("Float16Bits(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func TestBFloat16(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80}, {math.Float32frombits(0x3f808000), 0x3f80}, {math.Float32frombits(0x3f818000), 0x3f82},
		{math.Float32frombits(0x3f808001), 0x3f81}, {math.MaxFloat32, 0x7f80}, {float32(math.Inf(-1)), 0xff80},
		{-0.0, 0x0000},
	} {
		if got := BFloat16Bits(c.f); got != c.want && !(c.f == 0 && got == 0x8000) {
			t.Errorf("BFloat16Bits(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if b := BFloat16Bits(float32(math.NaN())); !math.IsNaN(float64(BFloat16Value(b))) {
		t.Errorf("NaN became %#04x", b)
	}
	for i := range 1 << 16 {
		if v := BFloat16Value(uint16(i)); v == v && BFloat16Bits(v) != uint16(i) {
			t.Fatalf("bfloat16 %#04x does not convert back", i)
		}
	}
}

func TestParseDType(t *testing.T) {
	for s, want := range map[string]DType{"f32": Float32, "float32": Float32, "F16": Float16, "half": Float16,
		"float16": Float16, "bf16": BFloat16, "bfloat16": BFloat16} {
		if got, err := ParseDType(s); err != nil || got != want || got.String() != want.String() {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseDType("f8"); err == nil {
		t.Error("ParseDType(f8) accepted")
	}
	if Float16.Size() != 2 || Float32.Size() != 4 || BFloat16.Size() != 2 {
		t.Error("sizes")
	}
}
