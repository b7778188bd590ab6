// posenc.cl: the sinusoidal positional encoding of "Attention Is All You Need",
//
//	PE(pos, 2i) = sin(pos * w_i),  PE(pos, 2i+1) = cos(pos * w_i),  w_i = 10000^(-2i/d),
//
// added to a scaled input. A float32 angle pos*w_i loses ~1e-7 * pos, too much
// for the tolerance rule at long sequences, so the angle is carried in two
// floats: the host passes w_i as a hi+lo pair computed in float64, the product
// is split exactly with fma, and the angle is reduced modulo 2*pi (itself a
// hi+lo pair) before sin/cos see it.

#define TWO_PI_HI 6.28318548202514648438f     // float(2*pi)
#define TWO_PI_LO (-1.74845553146951715e-07f) // 2*pi - TWO_PI_HI

// positional_encoding: for element idx of dst viewed as rows of d columns, with
// row r at position start + r % seq: dst = x * scale + PE (x read only if
// has_x). freq holds w_i as hi at 2i and lo at 2i+1 for i < (d+1)/2.
__kernel void positional_encoding(__global float *dst, __global const float *x, __global const float *freq,
                                  const int n, const int seq, const int d, const int start,
                                  const float scale, const int has_x) {
	const int idx = get_global_id(0);
	if (idx >= n) {
		return;
	}
	const int row = idx / d;
	const int col = idx - row * d;
	const float pos = (float)(start + row % seq);
	const int pair = col / 2;
	const float whi = freq[2 * pair];
	const float wlo = freq[2 * pair + 1];

	// angle = hi + lo exactly enough: pos*whi split by fma, plus pos*wlo.
	const float hi = pos * whi;
	const float lo = fma(pos, whi, -hi) + pos * wlo;
	// Reduce modulo 2*pi.
	const float k = rint(hi / TWO_PI_HI);
	float r = fma(-k, TWO_PI_HI, hi);
	r = fma(-k, TWO_PI_LO, r) + lo;

	const float pe = (col & 1) ? cos(r) : sin(r);
	dst[idx] = has_x ? x[idx] * scale + pe : pe;
}
