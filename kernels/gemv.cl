// gemv.cl: products of a few rows (decoding: one per sequence) with a weight
// matrix W [n, k] in PyTorch's Linear layout, which stream each weight element
// once: one work-item per output feature, looping over the rows in one block of
// RB rows (a build-time define: the row count itself, so the loops unroll).
//
//   gemv_rows:     dst[r, c] = act(alpha * a[r] . W[c] + bias[c]) + res[r, c]   (Gemm, few rows)
//   gated_hidden:  h[r, f]   = act(x[r] . Gate[f]) * (x[r] . Up[f])            (GatedFeedForward)
//   gated_product: g[i]     *= u[i]   (GatedFeedForward's GEMM path, many rows)
//
// The host takes these on CPU devices (PoCL), where a work-item's float4 loads
// along its own weight row vectorise; a GPU wants the rows of W read by whole
// work-groups instead (coalesced), and takes the tiled GEMMs.
//
// WDTYPE (a build-time define) is the weights' storage: 0 float, 1 IEEE half
// (vload_half, core OpenCL, no cl_khr_fp16 needed), 2 bfloat16 (the high half
// of a float); arithmetic is float32 either way.

#if WDTYPE == 1
#define WTYPE half
#define load_w16(p, k) vload_half16(0, (p) + (k))
#define load_w(p, k) vload_half((k), (p))
#elif WDTYPE == 2
#define WTYPE ushort
#define load_w16(p, k) as_float16(convert_uint16(vload16(0, (p) + (k))) << 16)
#define load_w(p, k) as_float((uint)(p)[k] << 16)
#else
#define WTYPE float
#define load_w16(p, k) vload16(0, (p) + (k))
#define load_w(p, k) ((p)[k])
#endif

// W_PREFETCH is how far ahead of its loads a work-item prefetches the weights,
// in bytes: the next work-item's row, since a work-group's work-items run one
// after the other on a CPU device and their rows follow each other.
#define W_PREFETCH 4096
// W_PREFETCH_L2 is how far ahead it also prefetches them into the L2 cache
// (locality 2), so that the prefetches W_PREFETCH ahead mostly find them there.
#define W_PREFETCH_L2 65536

// dot_block sets out[r] = a[r] . w for the nr <= RB rows a[r] = act + r*lda (n
// elements each) and one weight row w: 32 weights a step (one cache line of
// halves) into two 16-lane partial sums per row, the rest one by one.
inline void dot_block(__global const float *act, int lda, int n, int nr, __global const WTYPE *w, float *out) {
	float16 s[RB], t[RB];
	for (int r = 0; r < RB; r++) {
		s[r] = (float16)(0.0f);
		t[r] = (float16)(0.0f);
	}
	int k = 0;
	for (; k + 32 <= n; k += 32) {
#ifdef HAVE_PREFETCH
		for (int e = 0; e < 32 * (int)sizeof(WTYPE); e += 64) {
			__builtin_prefetch((__global const uchar *)(w + k) + W_PREFETCH + e);
			__builtin_prefetch((__global const uchar *)(w + k) + W_PREFETCH_L2 + e, 0, 2);
		}
#endif
		const float16 w0 = load_w16(w, k);
		const float16 w1 = load_w16(w, k + 16);
		for (int r = 0; r < RB; r++) {
			if (r < nr) {
				__global const float *ar = act + (size_t)r * lda + k;
				s[r] = fma(vload16(0, ar), w0, s[r]);
				t[r] = fma(vload16(0, ar + 16), w1, t[r]);
			}
		}
	}
	for (int r = 0; r < nr; r++) {
		float v = hsum16(s[r] + t[r]);
		for (int kk = k; kk < n; kk++) {
			v = fma(act[(size_t)r * lda + kk], load_w(w, kk), v);
		}
		out[r] = v;
	}
}

// gated_hidden: work-item f writes h[r, f] for every row r (h is [rows, F]).
__kernel void gated_hidden(const int rows, const int e, const int f_count, __global const float *x,
                           __global const WTYPE *gate, __global const WTYPE *up, const int act,
                           __global float *h) {
	const int f = get_global_id(0);
	if (f >= f_count) {
		return;
	}
	__global const WTYPE *gw = gate + (size_t)f * e;
	__global const WTYPE *uw = up + (size_t)f * e;
	for (int r0 = 0; r0 < rows; r0 += RB) {
		const int nr = min(RB, rows - r0);
		float g[RB], u[RB];
		dot_block(x + (size_t)r0 * e, e, e, nr, gw, g);
		dot_block(x + (size_t)r0 * e, e, e, nr, uw, u);
		for (int r = 0; r < nr; r++) {
			h[(size_t)(r0 + r) * f_count + f] = activate(g[r], act) * u[r];
		}
	}
}

// gemv_rows: work-item c writes dst[r, c] = act(alpha * a[r] . W[c] + bias[c])
// + res[r, c] for every row r < rows; a, W, res and dst are strided row views
// (offset, row stride). res may be dst itself: each element is read by the
// work-item that writes it, before it writes it; a must not overlap dst.
__kernel void gemv_rows(const int rows, const int n, const int k, const float alpha,
                        __global const float *a, const int a_off, const int lda,
                        __global const WTYPE *w, const int w_off, const int ldw,
                        __global const float *bias, const int has_bias, const int act,
                        __global const float *res, const int r_off, const int ldr, const int has_res,
                        __global float *dst, const int d_off, const int ldd) {
	const int c = get_global_id(0);
	if (c >= n) {
		return;
	}
	__global const WTYPE *wr = w + w_off + (size_t)c * ldw;
	const float b = has_bias ? bias[c] : 0.0f;
	for (int r0 = 0; r0 < rows; r0 += RB) {
		const int nr = min(RB, rows - r0);
		float v[RB];
		dot_block(a + a_off + (size_t)r0 * lda, lda, k, nr, wr, v);
		for (int r = 0; r < nr; r++) {
			float y = activate(alpha * v[r] + b, act);
			if (has_res) {
				y += res[r_off + (size_t)(r0 + r) * ldr + c];
			}
			dst[d_off + (size_t)(r0 + r) * ldd + c] = y;
		}
	}
}

// gated_product: g[i] *= u[i] for i < n, joining act(x Gate^T) (computed by a
// GEMM with the activation in its epilogue) with x Up^T.
__kernel void gated_product(__global float *g, __global const float *u, const int n) {
	const int i = get_global_id(0);
	if (i < n) {
		g[i] *= u[i];
	}
}
