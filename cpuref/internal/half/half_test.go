package half

import (
	"math"
	"testing"

	"github.com/clattn/clattn/backend"
)

// TestDecodeEveryHalf converts all 65536 patterns, at every alignment of the
// fast path's tail, and compares with backend.Float16Value bit for bit.
func TestDecodeEveryHalf(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, skip := range []int{0, 3, 13} {
		in := src[skip:]
		dst := make([]float32, len(in)+1)
		dst[len(in)] = 42
		Decode(dst[:len(in)], in)
		for i, h := range in {
			want := backend.Float16Value(h)
			if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
				t.Fatalf("Decode(%#04x) = %v (%#08x), want %v", h, dst[i], math.Float32bits(dst[i]), want)
			}
		}
		if dst[len(in)] != 42 {
			t.Fatal("Decode wrote past its source's length")
		}
	}
	dst := make([]float32, 1<<16)
	DecodeBF16(dst, src)
	for i, h := range src {
		if want := backend.BFloat16Value(h); math.Float32bits(dst[i]) != math.Float32bits(want) {
			t.Fatalf("DecodeBF16(%#04x) = %v, want %v", h, dst[i], want)
		}
	}
}

func TestNonFinite(t *testing.T) {
	for n := range 11 {
		for at := range n {
			for _, bad := range []uint16{0x7c00, 0xfc00, 0x7e00, 0xffff, 0x7c01} {
				x := make([]uint16, n)
				for i := range x {
					x[i] = 0x7bff ^ uint16(i&1)<<15 // largest finite, both signs
				}
				if NonFinite(x) {
					t.Fatalf("n=%d: finite halves reported non-finite", n)
				}
				x[at] = bad
				if !NonFinite(x) {
					t.Fatalf("n=%d: %#04x at %d not found", n, bad, at)
				}
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	src := make([]uint16, 1<<14)
	for i := range src {
		src[i] = uint16(i * 7)
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(2 * len(src)))
	for b.Loop() {
		Decode(dst, src)
	}
}
