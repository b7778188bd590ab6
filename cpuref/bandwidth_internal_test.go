package cpuref

import "testing"

// TestSumWords checks the streaming read's sum (vector loads where the CPU has
// them) against the plain loop at lengths around the vector widths, on words
// whose sum wraps around.
func TestSumWords(t *testing.T) {
	x := make([]uint64, 1000)
	for i := range x {
		x[i] = uint64(i)*0x9e3779b97f4a7c15 + 1
	}
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 999, 1000} {
		if got, want := sumWords(x[:n]), sumWordsGeneric(x[:n]); got != want {
			t.Errorf("sumWords of %d words = %#x, want %#x", n, got, want)
		}
	}
	// Unaligned starts: the vector loads take any address.
	if got, want := sumWords(x[3:700]), sumWordsGeneric(x[3:700]); got != want {
		t.Errorf("sumWords(x[3:700]) = %#x, want %#x", got, want)
	}
}
