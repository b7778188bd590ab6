// bmm.cl: the batched products of unfused attention (Scores, AttendValues).
//
// attn_bmm computes, for every (batch, head) bh = b*heads + h,
//
//   C[m,n] = alpha * sum_k A[m,k] * B(k,n)
//
// A(m,k) at aOff + b*aB + h*aH + m*aS + k (rows of a [M,K] matrix, k contiguous);
// B(k,n) at bOff + b*bB + g*bH + n*bS + k with B_NK (a [N,K] matrix such as the keys),
//        at bOff + b*bB + g*bH + k*bS + n otherwise (a [K,N] matrix such as the values),
//        where g = h / group: with grouped-query attention each K/V head serves group
//        consecutive query heads, read in place (never repeated in memory);
//        B is half with KV_HALF (common.cl), float otherwise;
// C(m,n) at cOff + b*cB + h*cH + m*cS + n.
// With SKIP_ZERO_A a product whose A element is exactly 0 is skipped, so NaN or Inf
// in B there never leaks (values of masked keys); the branch is taken only in B tiles
// that hold a non-finite value.
//
// Defines: TM x TN outputs per work-group, TK depth per local tile, RM x RN outputs
// per work-item (work-group TN/RN x TM/RM), LPAD local row padding.
//
// bmm_cpu.cl holds attn_bmm_cpu, the same product shaped for CPU devices.

#ifndef TM
#define TM 32
#endif
#ifndef TN
#define TN 32
#endif
#ifndef TK
#define TK 16
#endif
#ifndef RM
#define RM 2
#endif
#ifndef RN
#define RN 2
#endif
#ifndef LPAD
#define LPAD 0
#endif

#define WX (TN / RN)
#define WY (TM / RM)
#define WN (WX * WY)

#if TM % RM != 0 || TN % RN != 0
#error "TM must be a multiple of RM and TN a multiple of RN"
#endif

__kernel __attribute__((reqd_work_group_size(WX, WY, 1))) void
attn_bmm(__global const float *a, int aOff, int aB, int aH, int aS,
         __global const kv_t *bm, int bOff, int bB, int bH, int bS,
         __global float *c, int cOff, int cB, int cH, int cS,
         int heads, int group, int M, int N, int K, float alpha) {
    __local float As[TK][TM + LPAD];
    __local float Bs[TK][TN + LPAD];
    __local int bNonFinite[2];

    const int tx = get_local_id(0);
    const int ty = get_local_id(1);
    const int lid = ty * WX + tx;
    const int m0 = get_group_id(1) * TM;
    const int n0 = get_group_id(0) * TN;
    const int bh = get_group_id(2);
    const int b = bh / heads;
    const int h = bh - b * heads;
    const int aBase = aOff + b * aB + h * aH;
    const int bBase = bOff + b * bB + h / group * bH;

    float acc[RM][RN];
    #pragma unroll
    for (int r = 0; r < RM; ++r) {
        #pragma unroll
        for (int s = 0; s < RN; ++s) {
            acc[r][s] = 0.0f;
        }
    }
    if (lid == 0) {
        bNonFinite[0] = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (int k0 = 0, t = 0; k0 < K; k0 += TK, ++t) {
        if (lid == 0) {
            bNonFinite[(t + 1) & 1] = 0;
        }
        for (int idx = lid; idx < TM * TK; idx += WN) {
            const int mm = idx / TK;
            const int kk = idx - mm * TK;
            const int mi = m0 + mm, ki = k0 + kk;
            As[kk][mm] = (mi < M && ki < K) ? a[aBase + mi * aS + ki] : 0.0f;
        }
        for (int idx = lid; idx < TN * TK; idx += WN) {
#ifdef B_NK
            const int nn = idx / TK;
            const int kk = idx - nn * TK;
            const int ni = n0 + nn, ki = k0 + kk;
            const float x = (ni < N && ki < K) ? load_kv(bm, bBase + ni * bS + ki) : 0.0f;
#else
            const int kk = idx / TN;
            const int nn = idx - kk * TN;
            const int ni = n0 + nn, ki = k0 + kk;
            const float x = (ni < N && ki < K) ? load_kv(bm, bBase + ki * bS + ni) : 0.0f;
#endif
            Bs[kk][nn] = x;
#ifdef SKIP_ZERO_A
            if (!isfinite(x)) {
                bNonFinite[t & 1] = 1;
            }
#endif
        }
        barrier(CLK_LOCAL_MEM_FENCE);

#ifdef SKIP_ZERO_A
        if (bNonFinite[t & 1]) {
            for (int kk = 0; kk < TK; ++kk) {
                #pragma unroll
                for (int r = 0; r < RM; ++r) {
                    const float x = As[kk][ty + r * WY];
                    if (x != 0.0f) {
                        #pragma unroll
                        for (int s = 0; s < RN; ++s) {
                            acc[r][s] = fma(x, Bs[kk][tx + s * WX], acc[r][s]);
                        }
                    }
                }
            }
        } else
#endif
        {
            for (int kk = 0; kk < TK; ++kk) {
                float av[RM], bv[RN];
                #pragma unroll
                for (int r = 0; r < RM; ++r) {
                    av[r] = As[kk][ty + r * WY];
                }
                #pragma unroll
                for (int s = 0; s < RN; ++s) {
                    bv[s] = Bs[kk][tx + s * WX];
                }
                #pragma unroll
                for (int r = 0; r < RM; ++r) {
                    #pragma unroll
                    for (int s = 0; s < RN; ++s) {
                        acc[r][s] = fma(av[r], bv[s], acc[r][s]);
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    const int cBase = cOff + b * cB + h * cH;
    #pragma unroll
    for (int r = 0; r < RM; ++r) {
        const int mi = m0 + ty + r * WY;
        #pragma unroll
        for (int s = 0; s < RN; ++s) {
            const int ni = n0 + tx + s * WX;
            if (mi < M && ni < N) {
                c[cBase + mi * cS + ni] = alpha * acc[r][s];
            }
        }
    }
}
