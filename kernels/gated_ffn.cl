// gated_ffn.cl: the gated feed-forward network of Llama (backend.GatedFeedForward),
//
//   h[r, f]   = act(x[r] . Gate[f]) * (x[r] . Up[f])
//   dst[r, c] = h[r] . Down[c] + res[r, c]
//
// with Gate and Up [F, E] and Down [E, F] (PyTorch's Linear layout), so every
// inner product runs along a contiguous weight row. For a few rows (decoding)
// gated_hidden and gated_down give one work-item each output feature and loop
// over the rows in blocks of RB, reading each weight element once per block: the
// weights, the bulk of the bytes, stream through once. For many rows the host
// runs GEMMs instead and joins the gate and up activations with gated_product.
//
// WDTYPE (a build-time define) is the weights' storage: 0 float, 1 IEEE half
// (vload_half, core OpenCL, no cl_khr_fp16 needed), 2 bfloat16 (the high half
// of a float); arithmetic is float32 either way.

#if WDTYPE == 1
#define WTYPE half
#define load_w4(p, k) vload_half4(0, (p) + (k))
#define load_w(p, k) vload_half((k), (p))
#elif WDTYPE == 2
#define WTYPE ushort
#define load_w4(p, k) as_float4(convert_uint4(vload4(0, (p) + (k))) << 16)
#define load_w(p, k) as_float((uint)(p)[k] << 16)
#else
#define WTYPE float
#define load_w4(p, k) vload4(0, (p) + (k))
#define load_w(p, k) ((p)[k])
#endif

// dot_block sets out[r] = a[r] . w for the nr <= RB rows a[r] = act + r*n (n
// elements each) and one weight row w. Four interleaved partial sums per row.
inline void dot_block(__global const float *act, int n, int nr, __global const WTYPE *w, float *out) {
	float4 s[RB];
	for (int r = 0; r < RB; r++) {
		s[r] = (float4)(0.0f);
	}
	int k = 0;
	for (; k + 4 <= n; k += 4) {
		const float4 wv = load_w4(w, k);
		for (int r = 0; r < RB; r++) {
			if (r < nr) {
				s[r] = fma(vload4(0, act + (size_t)r * n + k), wv, s[r]);
			}
		}
	}
	for (int r = 0; r < nr; r++) {
		float t = (s[r].x + s[r].y) + (s[r].z + s[r].w);
		for (int kk = k; kk < n; kk++) {
			t = fma(act[(size_t)r * n + kk], load_w(w, kk), t);
		}
		out[r] = t;
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
		dot_block(x + (size_t)r0 * e, e, nr, gw, g);
		dot_block(x + (size_t)r0 * e, e, nr, uw, u);
		for (int r = 0; r < nr; r++) {
			h[(size_t)(r0 + r) * f_count + f] = activate(g[r], act) * u[r];
		}
	}
}

// gated_down: work-item c writes dst[r, c] = h[r] . Down[c] (+ res[r, c] if
// has_res) for every row r. res may be dst itself: each element is read by the
// work-item that writes it, before it writes it.
__kernel void gated_down(const int rows, const int e, const int f_count, __global const float *h,
                         __global const WTYPE *down, __global const float *res, const int has_res,
                         __global float *dst) {
	const int c = get_global_id(0);
	if (c >= e) {
		return;
	}
	__global const WTYPE *dw = down + (size_t)c * f_count;
	for (int r0 = 0; r0 < rows; r0 += RB) {
		const int nr = min(RB, rows - r0);
		float v[RB];
		dot_block(h + (size_t)r0 * f_count, f_count, nr, dw, v);
		for (int r = 0; r < nr; r++) {
			const size_t o = (size_t)(r0 + r) * e + c;
			dst[o] = has_res ? v[r] + res[o] : v[r];
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
