// posenc.cl: the sinusoidal positional encoding of "Attention Is All You Need",
//
//	PE(pos, 2i) = sin(pos * w_i),  PE(pos, 2i+1) = cos(pos * w_i),  w_i = 10000^(-2i/d),
//
// added to a scaled input, with the angle carried in two floats (reduced_angle,
// common.cl).

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
	const float r = reduced_angle(pos, freq[2 * pair], freq[2 * pair + 1]);
	const float pe = (col & 1) ? cos(r) : sin(r);
	dst[idx] = has_x ? x[idx] * scale + pe : pe;
}
