// rope.cl: the rotary position embedding (backend.Rotary). Pair i of the first
// r dimensions of a head at position p turns by the angle p * w_i,
// w_i the host's float64 frequency (theta^(-2i/r), or a scaled table such as
// Llama 3.1's), carried in two floats (reduced_angle, common.cl), so positions
// up to 128k and beyond keep float32 accuracy.

// HEAD_BLOCK (a build-time define) is the heads one work-item turns: 0 for all
// of them (CPU devices, so that each angle's sine and cosine are computed once
// a position), 1 for one (GPUs, for parallelism).
#ifndef HEAD_BLOCK
#define HEAD_BLOCK 1
#endif

// rotary: work-item id covers slot j = id % slots of position (b, s) and the
// heads of its head block, (b, s) major: slots = pairs + (dim - r), pairs =
// r/2. Slots below pairs rotate pair j ((j, j + r/2) for neox, (2j, 2j + 1)
// for gptj) by one angle for the block's heads; the others copy dimension r +
// (j - r/2) unchanged. x and dst are strided [B, H, S, dim] views (offset,
// batch, head and seq strides); dst may be x itself, since each work-item
// reads its elements before writing them. freq holds w_i as hi at 2i and lo at
// 2i+1. The position of (b, s) is positions[b*seq + s] (has_positions) or
// offset + s.
__kernel void rotary(__global float *dst, __global const float *x, __global const float *freq,
                     __global const float *positions, const int has_positions, const int offset,
                     const int gptj, const int items, const int heads, const int seq, const int dim,
                     const int pairs, const int slots,
                     const int x_off, const int x_bs, const int x_hs, const int x_ss,
                     const int d_off, const int d_bs, const int d_hs, const int d_ss) {
	const int id = get_global_id(0);
	if (id >= items) {
		return;
	}
	const int j = id % slots;
#if HEAD_BLOCK == 0
	const int h0 = 0, h1 = heads;
	const int row = id / slots;
#else
	const int blocks = (heads + HEAD_BLOCK - 1) / HEAD_BLOCK;
	const int h0 = (id / slots) % blocks * HEAD_BLOCK;
#if HEAD_BLOCK == 1
	const int h1 = h0 + 1; // a loop of one turn, which the compiler drops
#else
	const int h1 = min(h0 + HEAD_BLOCK, heads);
#endif
	const int row = id / (slots * blocks);
#endif
	const int s = row % seq;
	const int b = row / seq;
	__global const float *xr = x + x_off + (size_t)b * x_bs + (size_t)s * x_ss;
	__global float *dr = dst + d_off + (size_t)b * d_bs + (size_t)s * d_ss;
	if (j >= pairs) {
		const int c = j + pairs; // r + (j - r/2)
		for (int h = h0; h < h1; ++h) {
			dr[(size_t)h * d_hs + c] = xr[(size_t)h * x_hs + c];
		}
		return;
	}
	const float pos = has_positions ? positions[b * seq + s] : (float)(offset + s);
	const float angle = reduced_angle(pos, freq[2 * j], freq[2 * j + 1]);
	const float sn = sin(angle);
	const float cs = cos(angle);
	const int a = gptj ? 2 * j : j;
	const int c = gptj ? 2 * j + 1 : j + pairs;
	for (int h = h0; h < h1; ++h) {
		const float x1 = xr[(size_t)h * x_hs + a];
		const float x2 = xr[(size_t)h * x_hs + c];
		dr[(size_t)h * d_hs + a] = fma(x1, cs, -x2 * sn);
		dr[(size_t)h * d_hs + c] = fma(x2, cs, x1 * sn);
	}
}
