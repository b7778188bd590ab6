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

// inErfcBranch reports whether gelu(x) takes its erfc branch (x/sqrt(2) < -1.5).
func inErfcBranch(x float32) bool { return float64(x)*(1/math.Sqrt2) < -1.5 }

// silu is x * sigmoid(x) = x / (1 + e^-x), in float64 and rounded once.
func silu(x float32) float32 {
	return float32(float64(x) / (1 + math.Exp(-float64(x))))
}

// gelu is the exact x/2 * (1 + erf(x/sqrt(2))), in float64 and rounded once.
// erf is the rational approximation of Eigen and XLA (z*P(z^2)/Q(z^2) on
// [-4, 4], +-1 beyond), evaluated in float64: its error is below 7e-8, under
// half a float32 ulp of the result, at a fraction of math.Erf's cost. In the
// negative tail (z < -1.5), where 1 + erf(z) cancels, it computes x/2 *
// erfc(-z) instead (geluTail, relative error 1e-11 before the rounding), so
// GELU keeps its relative accuracy there too.
func gelu(x float32) float32 {
	z := float64(x) * (1 / math.Sqrt2)
	var erf float64
	switch {
	case z > 4:
		erf = 1
	case inErfcBranch(x): // z < -1.5
		return geluTail(x)
	default:
		// Horner's steps as fused multiply-adds, one rounding each, as the
		// assembly kernels take them.
		z2 := z * z
		p := -2.72614225801306e-10
		p = math.FMA(p, z2, 2.77068142495902e-08)
		p = math.FMA(p, z2, -2.10102402082508e-06)
		p = math.FMA(p, z2, -5.69250639462346e-05)
		p = math.FMA(p, z2, -7.34990630326855e-04)
		p = math.FMA(p, z2, -2.95459980854025e-03)
		p = math.FMA(p, z2, -1.60960333262415e-02)
		q := -1.45660718464996e-05
		q = math.FMA(q, z2, -2.13374055278905e-04)
		q = math.FMA(q, z2, -1.68282697438203e-03)
		q = math.FMA(q, z2, -7.37332916720468e-03)
		q = math.FMA(q, z2, -1.42647390514189e-02)
		erf = z * p / q
	}
	return float32(0.5 * float64(x) * (1 + erf))
}
