// Batched, strided SGEMM with a fused epilogue (backend.Gemm):
//
//   v        = alpha * sum_k op(A)[i,k] * op(B)[k,j] + beta * C[i,j] + bias[j]
//   C[i,j]   = act(v) + R[i,j]
//
// Every matrix is a strided view: element (b, i, j) of X lies at
// xOff + b*xBatchStride + i*ldx + j (a batch stride of 0 broadcasts one matrix).
// beta == 0 means C is not read, so NaN there does not leak.
//
// Tiling (build-time defines, chosen per device class by the host, gpu/gemm_config.go):
//   TM, TN     rows and columns of C computed by one work-group
//   TK         depth of the A and B tiles staged in local memory
//   WPTM, WPTN rows and columns of C computed by one work-item (register micro-tile)
//   VWN        vector width of the local B reads and of the accumulators (1, 2, 4, 8, 16)
//   VWM        vector width of the local A reads (1, 2, 4, 8, 16; divides WPTM)
//   LVW        vector width of the global loads (1, 2, 4, 8, 16); the host passes aVec/bVec
//              = 1 where a matrix's offset, strides and line length are multiples of LVW
// The work-group is (TN/WPTN, TM/WPTM) work-items. A work-item's rows are VWM-wide
// groups (ty, ty+RTSM, ...)*VWM and its columns VWN-wide groups (tx, tx+RTSN, ...)*VWN,
// so each k step reads WPTM/VWM vectors of A and WPTN/VWN vectors of B from local
// memory, and neighbouring work-items read neighbouring vectors (no bank conflicts on
// GPUs; a warp's rows of A are a broadcast). A is stored transposed, Asub[k][i], in
// rows padded by VWM floats: VWM = 1 is the scalar-A layout, TM+1 floats a row; a
// wider VWM keeps the rows a whole number of vectors, so the vector reads are aligned.
// The local tiles are double-buffered: the next A and B tiles are read from global
// memory into registers while the current ones are multiplied, then stored to the
// other buffer, so one barrier per TK step suffices. Edge tiles are zero-padded on
// load and masked on store: any M, N, K works.

#define RTSM (TM / WPTM)
#define RTSN (TN / WPTN)
#define NTHREADS (RTSM * RTSN)
// Elements of the A and B tiles each work-item loads per step.
#define LPTA (TM * TK / NTHREADS)
#define LPTB (TN * TK / NTHREADS)
#define NVEC (WPTN / VWN)
#define MVEC (WPTM / VWM)
#define TNV (TN / VWN)
// Row length of the A tile, padded against bank conflicts on the transposing store.
#define TMP (TM + VWM)

#if VWN == 1
#define floatv float
#elif VWN == 2
#define floatv float2
#elif VWN == 4
#define floatv float4
#elif VWN == 8
#define floatv float8
#elif VWN == 16
#define floatv float16
#else
#error "VWN must be 1, 2, 4, 8 or 16"
#endif

#if VWM == 1
#define floatm float
#elif VWM == 2
#define floatm float2
#elif VWM == 4
#define floatm float4
#elif VWM == 8
#define floatm float8
#elif VWM == 16
#define floatm float16
#else
#error "VWM must be 1, 2, 4, 8 or 16"
#endif

// UNR is the unroll factor of the micro-tile loops; 0 unrolls them fully (GPUs keep the
// accumulators in registers that way; PoCL is fastest with a partial unroll).
#define STRINGIFY(x) #x
#define PRAGMA(x) _Pragma(STRINGIFY(x))
#if UNR > 0
#define UNROLL PRAGMA(unroll UNR)
#else
#define UNROLL PRAGMA(unroll)
#endif

#if LVW == 1
#define floatl float
#elif LVW == 2
#define floatl float2
#elif LVW == 4
#define floatl float4
#elif LVW == 8
#define floatl float8
#elif LVW == 16
#define floatl float16
#else
#error "LVW must be 1, 2, 4, 8 or 16"
#endif

// loadLine reads the LVW elements p[0..LVW-1], elements c..c+LVW-1 of a line of n
// elements, as zeros where the line is outside the matrix (inside == 0) or past n.
// aligned promises that p is LVW-aligned and n a multiple of LVW (the host checks
// offsets and strides), so an in-range vector is read with one vector load.
inline floatl loadLine(__global const float* p, int inside, int c, int n, int aligned) {
	if (aligned && inside && c < n) {
		return *(__global const floatl*)p;
	}
	union {
		floatl v;
		float s[LVW];
	} u;
#pragma unroll
	for (int v = 0; v < LVW; v++) {
		u.s[v] = (inside && c + v < n) ? p[v] : 0.0f;
	}
	return u.v;
}

// B's element type: float; half with B_HALF and bfloat16 (16-bit patterns, the
// top half of a float) with B_BF16, so that y = x W^T reads half the weight
// bytes. Both convert exactly to float as they are read (vload_half is core
// OpenCL 1.2; bfloat16 is a shift); the arithmetic stays float.
#if defined(B_HALF)
#define b_t half
#define b_value(p, i) vload_half((i), (p))
#elif defined(B_BF16)
#define b_t ushort
#define b_value(p, i) as_float((uint)(p)[i] << 16)
#else
#define b_t float
#define b_value(p, i) ((p)[i])
#endif

#define CAT(a, b) a##b
#define XCAT(a, b) CAT(a, b)

// loadLineB is loadLine for the B operand of type b_t.
inline floatl loadLineB(__global const b_t* p, int inside, int c, int n, int aligned) {
#if defined(B_HALF) || defined(B_BF16)
	if (aligned && inside && c < n) {
#if LVW == 1
		return b_value(p, 0);
#elif defined(B_HALF)
		return XCAT(vload_half, LVW)(0, p);
#else
		return XCAT(as_float, LVW)(XCAT(convert_uint, LVW)(XCAT(vload, LVW)(0, p)) << 16);
#endif
	}
	union {
		floatl v;
		float s[LVW];
	} u;
#pragma unroll
	for (int v = 0; v < LVW; v++) {
		u.s[v] = (inside && c + v < n) ? b_value(p, v) : 0.0f;
	}
	return u.v;
#else
	return loadLine(p, inside, c, n, aligned);
#endif
}

__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1)))
void gemm(const int M, const int N, const int K,
          const int transA, const int transB,
          const float alpha, const float beta,
          __global const float* restrict A, const int aOff, const int aBatchStride, const int lda,
          __global const b_t* restrict B, const int bOff, const int bBatchStride, const int ldb,
          __global float* C, const int cOff, const int cBatchStride, const int ldc,
          __global const float* restrict bias, const int hasBias, const int act,
          __global const float* R, const int rOff, const int rBatchStride, const int ldr,
          const int hasResidual, const int aVec, const int bVec) {
	__local floatm Asub[2][TK][TMP / VWM];
	__local floatv Bsub[2][TK][TNV];

	const int tx = get_local_id(0);
	const int ty = get_local_id(1);
	const int tid = ty * RTSN + tx;
	const int col0 = get_group_id(0) * TN;
	const int row0 = get_group_id(1) * TM;
	const int batch = get_global_id(2);

	A += aOff + batch * aBatchStride;
	B += bOff + batch * bBatchStride;

	floatv acc[WPTM][NVEC];
	UNROLL
	for (int wm = 0; wm < WPTM; wm++) {
		UNROLL
		for (int wn = 0; wn < NVEC; wn++) {
			acc[wm][wn] = (floatv)(0.0f);
		}
	}

	floatl ra[LPTA / LVW];
	floatl rb[LPTB / LVW];
	const int numTiles = (K + TK - 1) / TK;

// Tile loads see each matrix as lines along its contiguous dimension: line o, element
// c of a tile. Consecutive work-items read consecutive LVW-vectors of a line, so loads
// coalesce in every transpose case.
//   A, not transposed: line = row i (of TM), along k (TK)   A, transposed: line = k, along i
//   B, not transposed: line = k (of TK), along j (TN)       B, transposed: line = j, along k
// loadTile reads the A and B tiles at depth k0 into ra and rb, zero outside the matrices.
#define loadTile(k0)                                                                    \
	UNROLL for (int l = 0; l < LPTA / LVW; l++) {                                      \
		const int idx = tid + l * NTHREADS;                                             \
		if (transA) {                                                                   \
			const int go = (k0) + idx / (TM / LVW), gc = row0 + idx % (TM / LVW) * LVW; \
			ra[l] = loadLine(A + go * lda + gc, go < K, gc, M, aVec);                   \
		} else {                                                                        \
			const int go = row0 + idx / (TK / LVW), gc = (k0) + idx % (TK / LVW) * LVW; \
			ra[l] = loadLine(A + go * lda + gc, go < M, gc, K, aVec);                   \
		}                                                                               \
	}                                                                                   \
	UNROLL for (int l = 0; l < LPTB / LVW; l++) {                                      \
		const int idx = tid + l * NTHREADS;                                             \
		if (transB) {                                                                   \
			const int go = col0 + idx / (TK / LVW), gc = (k0) + idx % (TK / LVW) * LVW; \
			rb[l] = loadLineB(B + go * ldb + gc, go < N, gc, K, bVec);                   \
		} else {                                                                        \
			const int go = (k0) + idx / (TN / LVW), gc = col0 + idx % (TN / LVW) * LVW; \
			rb[l] = loadLineB(B + go * ldb + gc, go < K, gc, N, bVec);                   \
		}                                                                               \
	}

// storeTile writes ra and rb into local buffer buf, k-major: Asub[k][i], Bsub[k][j].
#define storeTile(buf)                                                                  \
	UNROLL for (int l = 0; l < LPTA / LVW; l++) {                                      \
		const int idx = tid + l * NTHREADS;                                             \
		__local float* as = (__local float*)Asub[buf];                                  \
		union {                                                                         \
			floatl v;                                                                   \
			float s[LVW];                                                               \
		} u;                                                                            \
		u.v = ra[l];                                                                    \
		_Pragma("unroll") for (int v = 0; v < LVW; v++) {                               \
			if (transA) {                                                               \
				as[idx / (TM / LVW) * TMP + idx % (TM / LVW) * LVW + v] = u.s[v];       \
			} else {                                                                    \
				as[(idx % (TK / LVW) * LVW + v) * TMP + idx / (TK / LVW)] = u.s[v];     \
			}                                                                           \
		}                                                                               \
	}                                                                                   \
	UNROLL for (int l = 0; l < LPTB / LVW; l++) {                                      \
		const int idx = tid + l * NTHREADS;                                             \
		__local float* bs = (__local float*)Bsub[buf];                                  \
		union {                                                                         \
			floatl v;                                                                   \
			float s[LVW];                                                               \
		} u;                                                                            \
		u.v = rb[l];                                                                    \
		_Pragma("unroll") for (int v = 0; v < LVW; v++) {                               \
			if (transB) {                                                               \
				bs[(idx % (TK / LVW) * LVW + v) * TN + idx / (TK / LVW)] = u.s[v];      \
			} else {                                                                    \
				bs[idx * LVW + v] = u.s[v];                                             \
			}                                                                           \
		}                                                                               \
	}

	if (numTiles > 0) {
		loadTile(0);
		storeTile(0);
	}
	barrier(CLK_LOCAL_MEM_FENCE);
	for (int t = 0; t < numTiles; t++) {
		const int cur = t & 1;
		const int more = t + 1 < numTiles;
		if (more) {
			loadTile((t + 1) * TK);
		}
		for (int k = 0; k < TK; k++) {
			floatv b[NVEC];
			UNROLL
			for (int wn = 0; wn < NVEC; wn++) {
				b[wn] = Bsub[cur][k][wn * RTSN + tx];
			}
			UNROLL
			for (int wv = 0; wv < MVEC; wv++) {
				union {
					floatm v;
					float s[VWM];
				} a;
				a.v = Asub[cur][k][wv * RTSM + ty];
#pragma unroll
				for (int v = 0; v < VWM; v++) {
					const floatv av = (floatv)(a.s[v]);
					UNROLL
					for (int wn = 0; wn < NVEC; wn++) {
						acc[wv * VWM + v][wn] = fma(av, b[wn], acc[wv * VWM + v][wn]);
					}
				}
			}
		}
		if (more) {
			storeTile(cur ^ 1);
		}
		barrier(CLK_LOCAL_MEM_FENCE);
	}

	C += cOff + batch * cBatchStride;
	R += rOff + batch * rBatchStride;
	// Constant indices into acc (unrolled loops) keep it in registers on GPUs.
	UNROLL
	for (int wm = 0; wm < WPTM; wm++) {
		const int i = row0 + (wm / VWM * RTSM + ty) * VWM + wm % VWM;
		if (i >= M) {
			continue;
		}
		UNROLL
		for (int wn = 0; wn < NVEC; wn++) {
			const int jv = col0 + (wn * RTSN + tx) * VWN;
			union {
				floatv v;
				float s[VWN];
			} u;
			u.v = acc[wm][wn];
#pragma unroll
			for (int v = 0; v < VWN; v++) {
				const int j = jv + v;
				if (j >= N) {
					continue;
				}
				float x = alpha * u.s[v];
				if (beta != 0.0f) {
					x += beta * C[i * ldc + j];
				}
				if (hasBias) {
					x += bias[j];
				}
				x = activate(x, act);
				if (hasResidual) {
					x += R[i * ldr + j];
				}
				C[i * ldc + j] = x;
			}
		}
	}
}
