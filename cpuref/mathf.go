package cpuref

import (
	"math"

	"github.com/clattn/clattn/backend"
)

// expfLow is where e^x rounds to 0 in float32: half the smallest subnormal,
// 2^-150, is e^-103.97.
const expfLow = -103.97208

// expf is e^x in float32 with a relative error of about 1e-7 (Cephes expf):
// x = n*ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial, scaled by 2^n.
// Below -87.3 it gives subnormals, as float32 hardware does (PyTorch, OpenCL
// devices): a softmax weight that small is not 0, and a NaN or Inf value it
// multiplies shows, on every backend alike. It is 0 below -103.97 (where e^x
// rounds to 0), NaN for NaN and +Inf above 88.7.
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < expfLow:
		return 0
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	fn := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - fn*c1 - fn*c2
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	n := int32(fn)
	switch {
	case n > 127:
		// x near 88.7: 2^128 overflows, 2 * 2^127 does not.
		return 2 * y * math.Float32frombits(uint32(n+126)<<23)
	case n < -126:
		// x below -87.34: 2^n is subnormal; scale in two steps (the second
		// multiplication rounds, once).
		return y * math.Float32frombits(uint32(n+127+24)<<23) * (1.0 / (1 << 24))
	}
	return y * math.Float32frombits(uint32(n+127)<<23)
}

// biasActivate sets x = a(x + bias) (bias may be nil). ReLU keeps NaN, as PyTorch's.
func biasActivate(x, bias []float32, a backend.Activation) {
	if bias != nil {
		bias = bias[:len(x)]
	}
	switch {
	case a == backend.ReLU && bias != nil:
		for i, v := range x {
			x[i] = max(v+bias[i], 0)
		}
	case a == backend.ReLU:
		for i, v := range x {
			x[i] = max(v, 0)
		}
	case a == backend.GELU:
		geluBias(x, bias)
	case a == backend.SiLU:
		for i, v := range x {
			if bias != nil {
				v += bias[i]
			}
			x[i] = silu(v)
		}
	case bias != nil:
		addTo(x, bias)
	}
}

// geluBiasGeneric sets x[j] = gelu(x[j] + bias[j]) (bias nil: gelu(x[j])), one at a time.
func geluBiasGeneric(x, bias []float32) {
	for i, v := range x {
		if bias != nil {
			v += bias[i]
		}
		x[i] = gelu(v)
	}
}

// inTailBranch reports whether gelu(x) takes its tail branch, |x/sqrt(2)| >
// 1.5, tested as z*z > 2.25 for z = x/sqrt(2) as the assembly kernels test it.
func inTailBranch(x float32) bool {
	z := float64(x) * (1 / math.Sqrt2)
	return z*z > 2.25
}

// silu is x * sigmoid(x) = x / (1 + e^-x), in float64 and rounded once.
func silu(x float32) float32 {
	return float32(float64(x) / (1 + math.Exp(-float64(x))))
}

// gelu is the exact x/2 * (1 + erf(x/sqrt(2))), in float64 and rounded once.
// For |z| = |x/sqrt(2)| <= 1.5, erf(z) = z * R(z^2) with R a degree-10
// polynomial (erfRatioCoef, no division): its error is below 2.3e-12, under
// 1e-10 of 1 + erf(z), so a value before its one rounding is within 1e-10 of
// its size. Beyond (geluTail), 1 + erf(z) is 2 - erfc(z) above and erfc(-z)
// below, with erfc to a relative 1e-11, so the negative tail, where 1 + erf
// cancels, keeps its relative accuracy too.
func gelu(x float32) float32 {
	if inTailBranch(x) {
		return geluTail(x)
	}
	z := float64(x) * (1 / math.Sqrt2)
	t := z * z
	// Horner's steps as fused multiply-adds, one rounding each, as the
	// assembly kernels take them; each product rounded alone (the conversion
	// keeps a compiler from fusing it into the add).
	p := erfRatioCoef[0]
	for _, c := range erfRatioCoef[1:] {
		p = math.FMA(p, t, c)
	}
	return float32(0.5 * float64(x) * (1 + float64(z*p)))
}

// erfRatioCoef holds the coefficients of R(t) = erf(sqrt(t))/sqrt(t) on
// [0, 2.25], highest power first (scripts/fit_erf.py).
var erfRatioCoef = [11]float64{
	5.451583542841588e-09,
	-1.2231037987588904e-07,
	1.5329709523145222e-06,
	-1.4725408601021897e-05,
	0.00012032132754102845,
	-0.0008546581202404616,
	0.005223895151740649,
	-0.026866147811703437,
	0.11283791345721135,
	-0.3761263888507467,
	1.1283791670938355,
}
