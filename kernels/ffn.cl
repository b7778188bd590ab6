// Fused position-wise feed-forward network (backend.FeedForward) for one block of
// RB rows per work-group (a build-time define):
//
//   h[r, f]   = act(sum_k x[r, k] * W1[f, k] + b1[f])        kept in local memory
//   dst[r, c] = sum_f h[r, f] * W2[c, f] + b2[c] + res[r, c]
//
// W1 is [dFF, dModel] and W2 [dModel, dFF] (PyTorch's Linear layout), so both inner
// products run along contiguous rows of the weights. The hidden block h never
// reaches global memory; the host picks this kernel only where
// RB*(dModel+dFF) floats fit the device's local memory (gpu/ops_gemm.go),
// and the two-GEMM path otherwise. Each work-group reads only its own rows of x
// (into local memory, before writing), so dst may be x itself.

// dot_rows sets out[r] = sum_k p[r*n + k] * q[k] for the nr <= RB rows of p: each
// element of q (a weight row) is read once for all rows. Four interleaved partial
// sums per row vectorise without reassociating one running sum.
inline void dot_rows(__local const float* p, __global const float* q, int n, int nr, float* out) {
	float4 s[RB];
	for (int r = 0; r < RB; r++) {
		s[r] = (float4)(0.0f);
	}
	int k = 0;
	for (; k + 4 <= n; k += 4) {
		const float4 w = vload4(0, q + k);
		for (int r = 0; r < RB; r++) {
			if (r < nr) {
				s[r] = fma(vload4(0, p + r * n + k), w, s[r]);
			}
		}
	}
	for (int r = 0; r < nr; r++) {
		float t = (s[r].x + s[r].y) + (s[r].z + s[r].w);
		for (int kk = k; kk < n; kk++) {
			t = fma(p[r * n + kk], q[kk], t);
		}
		out[r] = t;
	}
}

__kernel void ffn_fused(const int rows, const int dModel, const int dFF,
                        __global const float* x, // may be dst itself
                        __global const float* restrict W1, __global const float* restrict b1, const int hasB1,
                        __global const float* restrict W2, __global const float* restrict b2, const int hasB2,
                        __global const float* res, const int hasResidual, const int act,
                        __global float* dst,
                        __local float* xs, __local float* hs) {
	const int lid = get_local_id(0);
	const int ls = get_local_size(0);
	const int r0 = get_group_id(0) * RB;
	const int nr = min(RB, rows - r0);

	for (int idx = lid; idx < nr * dModel; idx += ls) {
		xs[idx] = x[r0 * dModel + idx];
	}
	barrier(CLK_LOCAL_MEM_FENCE);

	for (int f = lid; f < dFF; f += ls) {
		const float bias = hasB1 ? b1[f] : 0.0f;
		float v[RB];
		dot_rows(xs, W1 + f * dModel, dModel, nr, v);
		for (int r = 0; r < nr; r++) {
			hs[r * dFF + f] = activate(v[r] + bias, act);
		}
	}
	barrier(CLK_LOCAL_MEM_FENCE);

	for (int c = lid; c < dModel; c += ls) {
		const float bias = hasB2 ? b2[c] : 0.0f;
		float v[RB];
		dot_rows(hs, W2 + c * dFF, dFF, nr, v);
		for (int r = 0; r < nr; r++) {
			const int o = (r0 + r) * dModel + c;
			v[r] += bias;
			if (hasResidual) {
				v[r] += res[o];
			}
			dst[o] = v[r];
		}
	}
}
