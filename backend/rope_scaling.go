package backend

import "math"

// RopeScalingType names a way of stretching the rotary frequencies to a longer
// context, as Hugging Face's rope_scaling "rope_type" spells it.
type RopeScalingType string

const (
	// RopeUnscaled keeps Theta^(-2i/r) (rope_type "default", or no rope_scaling).
	RopeUnscaled RopeScalingType = ""
	// RopeLinear divides every frequency by Factor: position interpolation,
	// the same as dividing the positions by Factor.
	RopeLinear RopeScalingType = "linear"
	// RopeLlama3 is Llama 3.1's scaling: frequencies whose wavelength exceeds
	// OriginalMaxPositions/LowFreqFactor are divided by Factor, those below
	// OriginalMaxPositions/HighFreqFactor are kept, and the band between
	// blends the two smoothly.
	RopeLlama3 RopeScalingType = "llama3"
)

// RopeScaling is a rope_scaling of a Hugging Face config.json: how a
// checkpoint's rotary frequencies are changed from Theta^(-2i/r). The fields
// are the config's keys of the same meaning.
type RopeScaling struct {
	Type RopeScalingType
	// Factor (factor) divides the frequencies: all of them (linear), the low
	// ones (llama3).
	Factor float64
	// LowFreqFactor and HighFreqFactor (llama3: low_freq_factor,
	// high_freq_factor) set the band of wavelengths,
	// OriginalMaxPositions/HighFreqFactor to OriginalMaxPositions/LowFreqFactor,
	// over which the division by Factor fades out.
	LowFreqFactor, HighFreqFactor float64
	// OriginalMaxPositions (llama3: original_max_position_embeddings) is the
	// context length the model was first trained with.
	OriginalMaxPositions float64
}

// Validate checks that the scaling is one this package computes, with values
// that give positive finite frequencies. Errors name Hugging Face's keys.
func (s RopeScaling) Validate() error {
	positive := func(name string, v float64) error {
		if !(v > 0) || math.IsInf(v, 0) {
			return ArgumentErrorf("RopeScaling", "rope_type %s: %s = %g, want > 0 and finite", s.Type, name, v)
		}
		return nil
	}
	switch s.Type {
	case RopeUnscaled:
		return nil
	case RopeLinear:
		return positive("factor", s.Factor)
	case RopeLlama3:
		for _, f := range []struct {
			name string
			v    float64
		}{{"factor", s.Factor}, {"low_freq_factor", s.LowFreqFactor}, {"high_freq_factor", s.HighFreqFactor},
			{"original_max_position_embeddings", s.OriginalMaxPositions}} {
			if err := positive(f.name, f.v); err != nil {
				return err
			}
		}
		if s.HighFreqFactor <= s.LowFreqFactor {
			return ArgumentErrorf("RopeScaling", "rope_type llama3: high_freq_factor %g, want > low_freq_factor %g",
				s.HighFreqFactor, s.LowFreqFactor)
		}
		return nil
	}
	return ArgumentErrorf("RopeScaling", "rope_type %q is not supported (want default, linear or llama3)", string(s.Type))
}

// InverseFrequencies are the r/2 angular speeds of the rotary pairs of a model
// with base theta (0 means 10000) and this scaling, in float64, for
// RotaryOptions.InvFreq: pair i turns by p * w_i at position p, with w_i =
// theta^(-2i/r) scaled as Hugging Face's transformers computes inv_freq
// (there in float32). The scaling must be valid (Validate).
func (s RopeScaling) InverseFrequencies(theta float64, r int) []float64 {
	w := RotaryOptions{Theta: theta}.InverseFrequencies(r)
	switch s.Type {
	case RopeLinear:
		for i := range w {
			w[i] /= s.Factor
		}
	case RopeLlama3:
		// Bands by wavelength 2*pi/w: above lowWave the frequency is divided by
		// Factor, below highWave it is kept, in [highWave, lowWave] it is a
		// blend whose weight on the kept frequency rises linearly in
		// OriginalMaxPositions/wavelength from LowFreqFactor (0) to
		// HighFreqFactor (1).
		lowWave := s.OriginalMaxPositions / s.LowFreqFactor
		highWave := s.OriginalMaxPositions / s.HighFreqFactor
		for i, f := range w {
			wave := 2 * math.Pi / f
			switch {
			case wave > lowWave:
				w[i] = f / s.Factor
			case wave < highWave:
			default:
				smooth := (s.OriginalMaxPositions/wave - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				w[i] = (1-smooth)*f/s.Factor + smooth*f
			}
		}
	}
	return w
}
