// Fused scaled dot-product attention with an online softmax (FlashAttention-style).
//
//   out[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:].k[b,h,j,:] + masks) * v[b,h,j,:]
//
// One work-group owns BM query rows of one (batch, head). It keeps the scaled-free
// query tile in local memory and walks the keys in tiles of BN: each tile of K and V
// is loaded cooperatively into local memory, the BM x BN scores are computed in
// registers (RPT rows x KPT keys per work-item), the running row max and sum are
// updated (online softmax) and the probabilities, exchanged through local memory,
// are multiplied into the output accumulators (RPT rows x CPT value columns per
// work-item, in registers). The Sq x Sk matrix is never stored: extra memory is
// O(BM * (DKP + BN)) per work-group.
//
// Build-time defines (chosen per device class by the host, see attentionConfigFor):
//   BM   query rows per work-group          TR  work-items along rows (BM % TR == 0)
//   BN   keys per tile                      TC  work-items along keys (BN % TC == 0)
//   DKP  q/k head dim padded (>= d_k)       DVP v head dim padded (>= d_v)
//   LPAD local-memory row padding (1 avoids bank conflicts on GPUs, 0 keeps CPU rows aligned)
// The work-group is TC x TR work-items. The loops over a work-item's rows, keys
// and value columns are unrolled (#pragma unroll), so that its scores and
// accumulators are indexed by constants and stay in registers on GPUs.
//
// Masks, each optional and combined (a position is out if any masks it):
//   causal: query i sees keys j <= i + causalOffset (0 top-left, Sk-Sq bottom-right);
//           key tiles entirely above the diagonal are skipped;
//   mask:   maskKind 1 boolean (nonzero = out; the score is replaced, so NaN or huge
//           scores there cannot leak), maskKind 2 additive (added to the score; -inf
//           is out and likewise replaces the score); element (b,h,i,j) at
//           b*maskB + h*maskH + i*sk + j;
//   pad:    key padding [B, Sk], nonzero = key j of batch b is ignored.
// A row whose every key is out gives zeros. Values whose probability is exactly 0
// are skipped, so NaN or Inf in masked values never leaks.

#ifndef BM
#define BM 64
#endif
#ifndef BN
#define BN 32
#endif
#ifndef TR
#define TR 16
#endif
#ifndef TC
#define TC 16
#endif
#ifndef DKP
#define DKP 64
#endif
#ifndef DVP
#define DVP 64
#endif
#ifndef LPAD
#define LPAD 0
#endif

#define RPT (BM / TR)
#define KPT (BN / TC)
#define CPT ((DVP + TC - 1) / TC)
#define NT (TR * TC)

#if BM % TR != 0 || BN % TC != 0
#error "BM must be a multiple of TR and BN a multiple of TC"
#endif


__kernel __attribute__((reqd_work_group_size(TC, TR, 1))) void
flash_attention(__global const float *q, int qOff, int qB, int qH, int qS,
                __global const float *k, int kOff, int kB, int kH, int kS,
                __global const float *v, int vOff, int vB, int vH, int vS,
                __global float *out, int oOff, int oB, int oH, int oS,
                __global const float *mask, int maskKind, int maskB, int maskH,
                __global const float *pad, int hasPad, int heads, int sq, int sk,
                int dk, int dv, float scale, int causal, int causalOffset) {
    __local float Qs[DKP][BM + LPAD];
    __local float Ks[DKP][BN + LPAD];
    __local float Vs[BN][DVP + LPAD];
    __local float Ps[BN][BM + LPAD];
    __local float Red[TC][BM + LPAD];
    __local int vNonFinite[2];

    const int tx = get_local_id(0);
    const int ty = get_local_id(1);
    const int lid = ty * TC + tx;
    const int bh = get_group_id(1);
    const int b = bh / heads;
    const int h = bh - b * heads;
    const int i0 = get_group_id(0) * BM;

    const int qBase = qOff + b * qB + h * qH;
    const int kBase = kOff + b * kB + h * kH;
    const int vBase = vOff + b * vB + h * vH;
    const int maskBase = b * maskB + h * maskH;

    for (int idx = lid; idx < BM * DKP; idx += NT) {
        const int r = idx / DKP;
        const int d = idx - r * DKP;
        const int i = i0 + r;
        Qs[d][r] = (i < sq && d < dk) ? q[qBase + i * qS + d] : 0.0f;
    }
    if (lid == 0) {
        vNonFinite[0] = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    float m[RPT], l[RPT], acc[RPT][CPT];
    #pragma unroll
    for (int r = 0; r < RPT; ++r) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        #pragma unroll
        for (int c = 0; c < CPT; ++c) {
            acc[r][c] = 0.0f;
        }
    }

    // Keys past the last one any row of this block may see are skipped.
    const int lastRow = min(i0 + BM, sq) - 1;
    const int kEnd = causal ? clamp(lastRow + causalOffset + 1, 0, sk) : sk;

    for (int j0 = 0, t = 0; j0 < kEnd; j0 += BN, ++t) {
        if (lid == 0) {
            vNonFinite[(t + 1) & 1] = 0;
        }
        for (int idx = lid; idx < BN * DKP; idx += NT) {
            const int jj = idx / DKP;
            const int d = idx - jj * DKP;
            const int j = j0 + jj;
            Ks[d][jj] = (j < sk && d < dk) ? k[kBase + j * kS + d] : 0.0f;
        }
        for (int idx = lid; idx < BN * DVP; idx += NT) {
            const int jj = idx / DVP;
            const int d = idx - jj * DVP;
            const int j = j0 + jj;
            const float x = (j < sk && d < dv) ? v[vBase + j * vS + d] : 0.0f;
            Vs[jj][d] = x;
            if (!isfinite(x)) {
                vNonFinite[t & 1] = 1;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        float s[RPT][KPT];
        #pragma unroll
        for (int r = 0; r < RPT; ++r) {
            #pragma unroll
            for (int c = 0; c < KPT; ++c) {
                s[r][c] = 0.0f;
            }
        }
        for (int d = 0; d < DKP; ++d) {
            float qv[RPT], kv[KPT];
            #pragma unroll
            for (int r = 0; r < RPT; ++r) {
                qv[r] = Qs[d][ty + r * TR];
            }
            #pragma unroll
            for (int c = 0; c < KPT; ++c) {
                kv[c] = Ks[d][tx + c * TC];
            }
            #pragma unroll
            for (int r = 0; r < RPT; ++r) {
                #pragma unroll
                for (int c = 0; c < KPT; ++c) {
                    s[r][c] = fma(qv[r], kv[c], s[r][c]);
                }
            }
        }

        #pragma unroll
        for (int r = 0; r < RPT; ++r) {
            const int i = i0 + ty + r * TR;
            float rowMax = -INFINITY;
            #pragma unroll
            for (int c = 0; c < KPT; ++c) {
                const int j = j0 + tx + c * TC;
                const float x = i >= sq || j >= sk ? -INFINITY
                    : mask_score(scale * s[r][c], i, j, b, sk, causal, causalOffset, pad, hasPad, mask, maskKind, maskBase);
                s[r][c] = x;
                rowMax = nan_max(rowMax, x);
            }
            Red[tx][ty + r * TR] = rowMax;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        #pragma unroll
        for (int r = 0; r < RPT; ++r) {
            const int row = ty + r * TR;
            float mNew = m[r];
            #pragma unroll
            for (int u = 0; u < TC; ++u) {
                mNew = nan_max(mNew, Red[u][row]);
            }
            // exp(-inf - -inf) would be NaN: a row with nothing visible yet keeps zeros.
            const float alpha = m[r] == -INFINITY ? 0.0f : exp(m[r] - mNew);
            float sum = 0.0f;
            #pragma unroll
            for (int c = 0; c < KPT; ++c) {
                const float p = mNew == -INFINITY ? 0.0f : exp(s[r][c] - mNew);
                Ps[tx + c * TC][row] = p;
                sum += p;
            }
            l[r] = l[r] * alpha + sum;
            m[r] = mNew;
            #pragma unroll
            for (int c = 0; c < CPT; ++c) {
                acc[r][c] *= alpha;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        const int tileKeys = min(BN, sk - j0);
        if (vNonFinite[t & 1]) {
            for (int jj = 0; jj < tileKeys; ++jj) {
                #pragma unroll
                for (int r = 0; r < RPT; ++r) {
                    const float p = Ps[jj][ty + r * TR];
                    if (p != 0.0f) {
                        #pragma unroll
                        for (int c = 0; c < CPT; ++c) {
                            acc[r][c] = fma(p, Vs[jj][min(tx + c * TC, DVP - 1)], acc[r][c]);
                        }
                    }
                }
            }
        } else {
            for (int jj = 0; jj < BN; ++jj) {
                float pv[RPT], vv[CPT];
                #pragma unroll
                for (int r = 0; r < RPT; ++r) {
                    pv[r] = Ps[jj][ty + r * TR];
                }
                #pragma unroll
                for (int c = 0; c < CPT; ++c) {
                    vv[c] = Vs[jj][min(tx + c * TC, DVP - 1)];
                }
                #pragma unroll
                for (int r = 0; r < RPT; ++r) {
                    #pragma unroll
                    for (int c = 0; c < CPT; ++c) {
                        acc[r][c] = fma(pv[r], vv[c], acc[r][c]);
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    // Each work-item summed only its own keys: add the partial sums of the row.
    #pragma unroll
    for (int r = 0; r < RPT; ++r) {
        Red[tx][ty + r * TR] = l[r];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    #pragma unroll
    for (int r = 0; r < RPT; ++r) {
        const int row = ty + r * TR;
        const int i = i0 + row;
        float total = 0.0f;
        #pragma unroll
        for (int u = 0; u < TC; ++u) {
            total += Red[u][row];
        }
        if (i < sq) {
            #pragma unroll
            for (int c = 0; c < CPT; ++c) {
                const int d = tx + c * TC;
                if (d < dv) {
                    out[oOff + b * oB + h * oH + i * oS + d] = total == 0.0f ? 0.0f : acc[r][c] / total;
                }
            }
        }
    }
}
