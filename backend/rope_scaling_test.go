package backend_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
)

// TestRopeScalingLlama3 checks Llama 3.1 8B's frequencies (theta 500000, head
// dim 128, factor 8, bands at wavelengths 2048 and 8192) against values
// computed by hand from Hugging Face's formula in float64: pairs 0..28 kept,
// 29..34 blended, 35..63 divided by 8.
func TestRopeScalingLlama3(t *testing.T) {
	s := backend.RopeScaling{Type: backend.RopeLlama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	got := s.InverseFrequencies(500000, 128)
	plain := backend.RotaryOptions{Theta: 500000}.InverseFrequencies(128)
	if len(got) != 64 {
		t.Fatalf("%d frequencies, want 64", len(got))
	}
	for i, w := range got {
		want := plain[i]
		if i >= 35 {
			want /= 8
		}
		if (i <= 28 || i >= 35) && w != want {
			t.Errorf("pair %d: %g, want %g (unblended)", i, w, want)
		}
		if i > 28 && i < 35 && !(w < plain[i] && w > plain[i]/8) {
			t.Errorf("pair %d: %g, want a blend between %g and %g", i, w, plain[i]/8, plain[i])
		}
	}
	for i, want := range map[int]float64{29: 0.002166570763503359, 32: 0.0005248461609929547, 34: 0.0001785078127679964,
		40: 3.428102195952591e-05, 63: 3.068925988914511e-07} {
		if math.Abs(got[i]-want) > 1e-15*want {
			t.Errorf("pair %d: %.17g, want %.17g", i, got[i], want)
		}
	}
	lin := backend.RopeScaling{Type: backend.RopeLinear, Factor: 4}.InverseFrequencies(10000, 16)
	for i, w := range (backend.RotaryOptions{}).InverseFrequencies(16) {
		if lin[i] != w/4 {
			t.Errorf("linear factor 4, pair %d: %g, want %g", i, lin[i], w/4)
		}
	}
	if none := (backend.RopeScaling{}).InverseFrequencies(10000, 16); none[3] != math.Pow(10000, -6.0/16) {
		t.Errorf("no scaling, pair 3: %g, want 10000^(-6/16)", none[3])
	}
}

// TestRopeScalingValidate refuses scalings this package does not compute and
// values that give no finite positive frequencies, naming the key.
func TestRopeScalingValidate(t *testing.T) {
	llama3 := backend.RopeScaling{Type: backend.RopeLlama3, Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}
	for _, c := range []struct {
		edit func(*backend.RopeScaling)
		says string
	}{
		{func(s *backend.RopeScaling) { s.Type = "yarn" }, `"yarn"`},
		{func(s *backend.RopeScaling) { s.Factor = 0 }, "factor = 0"},
		{func(s *backend.RopeScaling) { s.Factor = math.Inf(1) }, "factor = +Inf"},
		{func(s *backend.RopeScaling) { s.LowFreqFactor = math.NaN() }, "low_freq_factor = NaN"},
		{func(s *backend.RopeScaling) { s.HighFreqFactor = 1 }, "high_freq_factor 1"},
		{func(s *backend.RopeScaling) { s.OriginalMaxPositions = -1 }, "original_max_position_embeddings = -1"},
		{func(s *backend.RopeScaling) { *s = backend.RopeScaling{Type: backend.RopeLinear, Factor: -2} }, "factor = -2"},
	} {
		s := llama3
		c.edit(&s)
		if err := s.Validate(); !errors.Is(err, backend.ErrArgument) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: got %v, want ErrArgument saying %q", s, err, c.says)
		}
	}
}
