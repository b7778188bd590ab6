// Unfused attention, for callers that want the attention weights:
// attn_bmm computes the scores q*k^T and the weighted values w*v, attn_softmax
// turns scores into masked, normalised weights.

// attn_bmm computes, for every (batch, head) bh = b*heads + h,
//
//   C[m,n] = alpha * sum_k A[m,k] * B(k,n)
//
// A(m,k) at aOff + b*aB + h*aH + m*aS + k (rows of a [M,K] matrix, k contiguous);
// B(k,n) at bOff + b*bB + h*bH + n*bS + k with B_NK (a [N,K] matrix such as the keys),
//        at bOff + b*bB + h*bH + k*bS + n otherwise (a [K,N] matrix such as the values);
// C(m,n) at cOff + b*cB + h*cH + m*cS + n.
// With SKIP_ZERO_A a product whose A element is exactly 0 is skipped, so NaN or Inf
// in B there never leaks (values of masked keys); the branch is taken only in B tiles
// that hold a non-finite value.
//
// Defines: TM x TN outputs per work-group, TK depth per local tile, RM x RN outputs
// per work-item (work-group TN/RN x TM/RM), LPAD local row padding.
//
// With BMM_CPU the file holds attn_bmm_cpu instead (same arguments, for CPU
// devices such as PoCL): RN must equal TN, a multiple of 16, so each work-item
// owns RM whole rows of the TN-column tile as float16 vectors.

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

#ifndef BMM_CPU

__kernel __attribute__((reqd_work_group_size(WX, WY, 1))) void
attn_bmm(__global const float *a, int aOff, int aB, int aH, int aS,
         __global const float *bm, int bOff, int bB, int bH, int bS,
         __global float *c, int cOff, int cB, int cH, int cS,
         int heads, int M, int N, int K, float alpha) {
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
    const int bBase = bOff + b * bB + h * bH;

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
            const float x = (ni < N && ki < K) ? bm[bBase + ni * bS + ki] : 0.0f;
#else
            const int kk = idx / TN;
            const int nn = idx - kk * TN;
            const int ni = n0 + nn, ki = k0 + kk;
            const float x = (ni < N && ki < K) ? bm[bBase + ki * bS + ni] : 0.0f;
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

#else // BMM_CPU

#if RN != TN || TN % 16 != 0
#error "attn_bmm_cpu needs RN == TN, a multiple of 16"
#endif

#define NV (TN / 16)

// attn_bmm_cpu is attn_bmm for CPU devices, where PoCL runs a work-group as a loop
// over its work-items: the group copies a TK x TN tile of B into local memory
// with n contiguous (transposing B_NK), then each work-item adds A[m,k] times
// that row of 16-float vectors into RM x TN/16 accumulators, so the inner loop is
// a few vector loads and RM*TN/16 vector FMAs with no branch. Rows past M read
// row M-1 (in bounds; never stored).
__kernel __attribute__((reqd_work_group_size(1, TM / RM, 1))) void
attn_bmm_cpu(__global const float *a, int aOff, int aB, int aH, int aS,
             __global const float *bm, int bOff, int bB, int bH, int bS,
             __global float *c, int cOff, int cB, int cH, int cS,
             int heads, int M, int N, int K, float alpha) {
    __local float Bt[TK][TN];
    __local int bNonFinite[2];

    const int w = get_local_id(1);
    const int items = TM / RM;
    const int m0 = get_group_id(1) * TM + w * RM;
    const int n0 = get_group_id(0) * TN;
    const int bh = get_group_id(2);
    const int b = bh / heads;
    const int h = bh - b * heads;
    const int aBase = aOff + b * aB + h * aH;
    const int bBase = bOff + b * bB + h * bH;

    int aRow[RM];
    float16 acc[RM][NV];
    for (int r = 0; r < RM; ++r) {
        aRow[r] = aBase + min(m0 + r, M - 1) * aS;
        for (int v = 0; v < NV; ++v) {
            acc[r][v] = 0.0f;
        }
    }
    if (w == 0) {
        bNonFinite[0] = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (int k0 = 0, t = 0; k0 < K; k0 += TK, ++t) {
        if (w == 0) {
            bNonFinite[(t + 1) & 1] = 0;
        }
        const int kn = min(TK, K - k0);
        bool bad = false;
#ifdef B_NK
        for (int nn = w; nn < TN; nn += items) {
            const int ni = n0 + nn;
            for (int kk = 0; kk < kn; ++kk) {
                const float x = ni < N ? bm[bBase + ni * bS + k0 + kk] : 0.0f;
                Bt[kk][nn] = x;
                bad |= !isfinite(x);
            }
        }
#else
        for (int kk = w; kk < kn; kk += items) {
            const int src = bBase + (k0 + kk) * bS + n0;
            for (int v = 0; v < NV; ++v) {
                float16 x;
                if (n0 + 16 * v + 16 <= N) {
                    x = vload16(v, bm + src);
                } else {
                    float lane[16];
                    for (int u = 0; u < 16; ++u) {
                        lane[u] = n0 + 16 * v + u < N ? bm[src + 16 * v + u] : 0.0f;
                    }
                    x = vload16(0, lane);
                }
                vstore16(x, v, &Bt[kk][0]);
                bad |= any(!isfinite(x));
            }
        }
#endif
#ifdef SKIP_ZERO_A
        if (bad) {
            bNonFinite[t & 1] = 1;
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);

#ifdef SKIP_ZERO_A
        if (bNonFinite[t & 1]) {
            for (int kk = 0; kk < kn; ++kk) {
                for (int r = 0; r < RM; ++r) {
                    const float x = a[aRow[r] + k0 + kk];
                    if (x != 0.0f) {
                        for (int v = 0; v < NV; ++v) {
                            acc[r][v] = fma((float16)x, vload16(v, &Bt[kk][0]), acc[r][v]);
                        }
                    }
                }
            }
        } else
#endif
        {
            for (int kk = 0; kk < kn; ++kk) {
                float16 bv[NV];
                for (int v = 0; v < NV; ++v) {
                    bv[v] = vload16(v, &Bt[kk][0]);
                }
                for (int r = 0; r < RM; ++r) {
                    const float16 x = (float16)a[aRow[r] + k0 + kk];
                    for (int v = 0; v < NV; ++v) {
                        acc[r][v] = fma(x, bv[v], acc[r][v]);
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    const int cBase = cOff + b * cB + h * cH;
    for (int r = 0; r < RM && m0 + r < M; ++r) {
        const int dst = cBase + (m0 + r) * cS + n0;
        for (int v = 0; v < NV; ++v) {
            const float16 x = alpha * acc[r][v];
            if (n0 + 16 * v + 16 <= N) {
                vstore16(x, v, c + dst);
            } else {
                float lane[16];
                vstore16(x, 0, lane);
                for (int u = 0; u < 16 && n0 + 16 * v + u < N; ++u) {
                    c[dst + 16 * v + u] = lane[u];
                }
            }
        }
    }
}

#endif // BMM_CPU

// attn_softmax normalises rows of scores [B, H, Sq, Sk] into dst (which may be
// scores itself), one row per work-group of SM_WG work-items (the row is the group
// id along dimension 0: NVIDIA's OpenCL allows only 65535 work-groups along
// dimensions 1 and 2, fewer than B*H*Sq rows at B 4, H 8, Sq 2048). Masks as in
// flash.cl: causal (j > i + causalOffset is out), maskKind 1 boolean (nonzero is
// out, the score replaced), maskKind 2 additive (added; -inf is out, the score
// replaced), key padding [B, Sk] (nonzero is out). The max and sum are found in
// one pass with an online rescaling, then combined across the work-group in local
// memory: SM_LANES work-items combine strided slices, then every work-item combines
// their partials in a fixed order. There is no barrier inside a loop: PoCL 3.1
// miscompiles a tree reduction with one (see group_sum in layernorm.cl). A row
// with every key out becomes zeros.

#ifndef SM_WG
#define SM_WG 64
#endif

#if (SM_WG & (SM_WG - 1)) != 0
#error "SM_WG must be a power of two"
#endif

#if SM_WG < 16
#define SM_LANES SM_WG
#else
#define SM_LANES 16
#endif

// rescaled_sum is a partial sum l of exp(x - m) re-expressed against the max mm >= m.
// An empty sum stays 0 (no exp(-inf - -inf)); a NaN sum stays NaN.
inline float rescaled_sum(float l, float m, float mm) { return l == 0.0f ? 0.0f : l * exp(m - mm); }

__kernel __attribute__((reqd_work_group_size(SM_WG, 1, 1))) void
attn_softmax(__global float *dst, __global const float *scores, int rows, int heads,
             int sq, int sk, __global const float *mask, int maskKind, int maskB, int maskH,
             __global const float *pad, int hasPad, int causal, int causalOffset) {
    __local float redMax[SM_WG];
    __local float redSum[SM_WG];
    __local float partMax[SM_LANES];
    __local float partSum[SM_LANES];

    const int tx = get_local_id(0);
    const int row = get_group_id(0);
    const bool live = row < rows;
    const int i = row % sq;
    const int bh = row / sq;
    const int b = bh / heads;
    const int h = bh - b * heads;
    const int rowBase = row * sk;
    const int maskBase = b * maskB + h * maskH;

    float m = -INFINITY, l = 0.0f;
    if (live) {
        for (int j = tx; j < sk; j += SM_WG) {
            const float x = mask_score(scores[rowBase + j], i, j, b, sk, causal, causalOffset, pad, hasPad, mask, maskKind, maskBase);
            if (x > m) {
                l = rescaled_sum(l, m, x) + 1.0f;
                m = x;
            } else if (x != -INFINITY) {
                l += exp(x - m); // NaN scores make l NaN
            }
        }
    }
    redMax[tx] = m;
    redSum[tx] = l;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (tx < SM_LANES) {
        float pm = -INFINITY, pl = 0.0f;
        for (int u = tx; u < SM_WG; u += SM_LANES) {
            const float mm = fmax(pm, redMax[u]);
            pl = rescaled_sum(pl, pm, mm) + rescaled_sum(redSum[u], redMax[u], mm);
            pm = mm;
        }
        partMax[tx] = pm;
        partSum[tx] = pl;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float rowMax = -INFINITY, sum = 0.0f;
    for (int u = 0; u < SM_LANES; ++u) {
        const float mm = fmax(rowMax, partMax[u]);
        sum = rescaled_sum(sum, rowMax, mm) + rescaled_sum(partSum[u], partMax[u], mm);
        rowMax = mm;
    }
    // A +inf score makes exp(inf - inf) NaN: the whole row is NaN, as in the reference.
    const float rowSum = rowMax == INFINITY ? NAN : sum;
    if (live) {
        for (int j = tx; j < sk; j += SM_WG) {
            const float x = mask_score(scores[rowBase + j], i, j, b, sk, causal, causalOffset, pad, hasPad, mask, maskKind, maskBase);
            dst[rowBase + j] = rowSum == 0.0f ? 0.0f : exp(x - rowMax) / rowSum;
        }
    }
}

// attn_softmax_rows is attn_softmax for CPU devices: one row per work-item
// (global id 0), float16 vectors along the row and no barriers, with the same
// masks and results. Pass 1 finds the row max, pass 2 stores exp(x - max) in dst
// and sums it, pass 3 divides by the sum. dst may be scores: each element is read
// before it is written. Where the device has doubles (CPU devices do), the sum
// and the division are in double, as in the pure-Go backend: the weights then
// round the same way, and an attention output whose terms cancel stays close to
// it.

#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double16 sum16_t;
typedef double sum_t;
#define convert_sum16 convert_double16
#else
typedef float16 sum16_t;
typedef float sum_t;
#define convert_sum16
#endif

inline sum_t hsum_wide16(sum16_t x) {
    return ((x.s0 + x.s1) + (x.s2 + x.s3)) + ((x.s4 + x.s5) + (x.s6 + x.s7)) +
           (((x.s8 + x.s9) + (x.sa + x.sb)) + ((x.sc + x.sd) + (x.se + x.sf)));
}

inline float hmax16(float16 x) {
    float8 a = fmax(x.lo, x.hi);
    float4 b = fmax(a.lo, a.hi);
    float2 c = fmax(b.lo, b.hi);
    return fmax(c.x, c.y);
}

// masked16 applies the masks to scores x of keys j0..j0+15, given their mask
// values mv and padding flags pv; keys at or past visibleEnd (causal) are out.
inline float16 masked16(float16 x, float16 mv, float16 pv, int maskKind, int hasPad, int j0, int visibleEnd) {
    if (maskKind == 1) {
        x = select(x, (float16)(-INFINITY), mv != 0.0f);
    } else if (maskKind == 2) {
        x += mv; // additive: as PyTorch, a NaN or +Inf score plus -inf is NaN
    }
    if (hasPad) {
        x = select(x, (float16)(-INFINITY), pv != 0.0f);
    }
    const int16 j = (int16)(j0) + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return select(x, (float16)(-INFINITY), j >= visibleEnd);
}

// row_chunk returns the masked scores of keys j0..j0+15 (keys past sk are out).
inline float16 row_chunk(__global const float *src, __global const float *mrow, __global const float *prow,
                         int maskKind, int hasPad, int j0, int sk, int visibleEnd) {
    float16 x, mv = 0.0f, pv = 0.0f;
    if (j0 + 16 <= sk) {
        x = vload16(0, src + j0);
        if (maskKind != 0) {
            mv = vload16(0, mrow + j0);
        }
        if (hasPad) {
            pv = vload16(0, prow + j0);
        }
    } else {
        float lx[16], lm[16], lp[16];
        for (int u = 0; u < 16; ++u) {
            const bool in = j0 + u < sk;
            lx[u] = in ? src[j0 + u] : 0.0f;
            lm[u] = in && maskKind != 0 ? mrow[j0 + u] : 0.0f;
            lp[u] = in && hasPad ? prow[j0 + u] : 0.0f;
        }
        x = vload16(0, lx);
        mv = vload16(0, lm);
        pv = vload16(0, lp);
    }
    return masked16(x, mv, pv, maskKind, hasPad, j0, min(visibleEnd, sk));
}

__kernel void attn_softmax_rows(__global float *dst, __global const float *scores, int rows, int heads,
                                int sq, int sk, __global const float *mask, int maskKind, int maskB, int maskH,
                                __global const float *pad, int hasPad, int causal, int causalOffset) {
    const int row = get_global_id(0);
    if (row >= rows) {
        return;
    }
    const int i = row % sq;
    const int bh = row / sq;
    const int b = bh / heads;
    const int h = bh - b * heads;
    __global const float *src = scores + row * sk;
    __global float *out = dst + row * sk;
    __global const float *mrow = mask + b * maskB + h * maskH + (maskKind != 0 ? i * sk : 0);
    __global const float *prow = pad + (hasPad ? b * sk : 0);
    const int visibleEnd = causal ? clamp(i + causalOffset + 1, 0, sk) : sk;

    float16 m16 = -INFINITY;
    for (int j0 = 0; j0 < sk; j0 += 16) {
        m16 = fmax(m16, row_chunk(src, mrow, prow, maskKind, hasPad, j0, sk, visibleEnd));
    }
    const float rowMax = hmax16(m16); // NaN scores are passed over here and make the sum NaN

    sum16_t s16 = 0.0f;
    for (int j0 = 0; j0 < sk; j0 += 16) {
        const float16 x = row_chunk(src, mrow, prow, maskKind, hasPad, j0, sk, visibleEnd);
        const float16 e = select(exp(x - rowMax), (float16)(0.0f), x == -INFINITY);
        s16 += convert_sum16(e);
        if (j0 + 16 <= sk) {
            vstore16(e, 0, out + j0);
        } else {
            float lane[16];
            vstore16(e, 0, lane);
            for (int u = 0; j0 + u < sk; ++u) {
                out[j0 + u] = lane[u];
            }
        }
    }
    // A +inf score gives exp(inf - inf) = NaN, so the whole row is NaN, as in the reference.
    const sum_t rowSum = hsum_wide16(s16);

    for (int j0 = 0; j0 < sk; j0 += 16) {
        if (j0 + 16 <= sk) {
            const float16 e = vload16(0, out + j0);
            vstore16(rowSum == 0 ? (float16)(0.0f) : convert_float16(convert_sum16(e) / rowSum), 0, out + j0);
        } else {
            for (int u = 0; j0 + u < sk; ++u) {
                out[j0 + u] = rowSum == 0 ? 0.0f : (float)((sum_t)out[j0 + u] / rowSum);
            }
        }
    }
}
