// Fused scaled dot-product attention with an online softmax (FlashAttention-style).
//
//   out[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:].k[b,g,j,:] + masks) * v[b,g,j,:]
//
// with g = h / group: under grouped-query attention each K/V head serves group
// consecutive query heads and is read in place. K (V) is half with K_HALF
// (V_HALF, common.cl), float otherwise.
//
// One work-group owns BM query rows of one (batch, head). It keeps the query tile
// in local memory and walks the keys in tiles of BN. Per tile: the K tile is
// loaded cooperatively into local memory, the BM x BN scores are computed in
// registers (RPT rows x KPT keys per work-item), and the row maxima are exchanged;
// then, K being dead, the V tile is loaded into the same buffer while the
// probabilities are computed (online softmax) and exchanged through local memory;
// last they are multiplied into the output accumulators (RPT rows x CPT value
// columns per work-item, in registers). Sharing the K and V buffer keeps the
// local memory at O(BM * DKP + BN * max(DKP, DVP)) per work-group, so that head
// dim 128 fits 32 x 32 tiles in 48 KB. The Sq x Sk matrix is never stored.
//
// A work-item owns RPT consecutive rows (ty*RPT ...), so that it reads its query
// values, probabilities and partial maxima as float4 (RPT % 4 == 0) or float2
// vectors: the rows of Qs, Ps and Red are QW floats, a multiple of 4 where RPT is.
//
// Build-time defines (chosen per device class by the host, see attentionConfigFor):
//   BM   query rows per work-group          TR  work-items along rows (BM % TR == 0)
//   BN   keys per tile                      TC  work-items along keys (BN % TC == 0)
//   DKP  q/k head dim padded (>= d_k)       DVP v head dim padded (>= d_v)
//   LPAD local-memory row padding (1 avoids bank conflicts on GPUs, 0 keeps CPU rows aligned)
// The work-group is TC x TR work-items. The loops over a work-item's rows, keys
// and value columns are unrolled (#pragma unroll), so that its scores and
// accumulators are indexed by constants and stay in registers on GPUs.
// gpu.flashLocalBytes must match the local arrays declared here.
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
// QW is the row length of Qs, Ps and Red (indexed by query row); KW and VW those
// of the K and V tiles, which share the buffer KV of KVN floats.
#define QW (BM + 4 * LPAD)
#define KW (BN + LPAD)
#define VW (DVP + LPAD)
#define KVN (DKP * KW > BN * VW ? DKP * KW : BN * VW)

#if BM % TR != 0 || BN % TC != 0
#error "BM must be a multiple of TR and BN a multiple of TC"
#endif

// load_rows reads the RPT consecutive floats at p into x; store_rows writes x
// there. p is a work-item's first row, row0 = ty*RPT, in a row of QW floats of an
// array aligned to 16 bytes, so it is aligned to the vector access.
inline void load_rows(float *x, __local const float *p) {
#if RPT % 4 == 0
    #pragma unroll
    for (int g = 0; g < RPT / 4; ++g) {
        const float4 t = ((__local const float4 *)p)[g];
        x[4 * g] = t.s0;
        x[4 * g + 1] = t.s1;
        x[4 * g + 2] = t.s2;
        x[4 * g + 3] = t.s3;
    }
#elif RPT % 2 == 0
    #pragma unroll
    for (int g = 0; g < RPT / 2; ++g) {
        const float2 t = ((__local const float2 *)p)[g];
        x[2 * g] = t.s0;
        x[2 * g + 1] = t.s1;
    }
#else
    #pragma unroll
    for (int g = 0; g < RPT; ++g) {
        x[g] = p[g];
    }
#endif
}

inline void store_rows(__local float *p, const float *x) {
#if RPT % 4 == 0
    #pragma unroll
    for (int g = 0; g < RPT / 4; ++g) {
        ((__local float4 *)p)[g] = (float4)(x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]);
    }
#elif RPT % 2 == 0
    #pragma unroll
    for (int g = 0; g < RPT / 2; ++g) {
        ((__local float2 *)p)[g] = (float2)(x[2 * g], x[2 * g + 1]);
    }
#else
    #pragma unroll
    for (int g = 0; g < RPT; ++g) {
        p[g] = x[g];
    }
#endif
}


__kernel __attribute__((reqd_work_group_size(TC, TR, 1))) void
flash_attention(__global const float *q, int qOff, int qB, int qH, int qS,
                __global const k_t *k, int kOff, int kB, int kH, int kS,
                __global const v_t *v, int vOff, int vB, int vH, int vS,
                __global float *out, int oOff, int oB, int oH, int oS,
                __global const float *mask, int maskKind, int maskB, int maskH,
                __global const float *pad, int hasPad, int heads, int group, int sq, int sk,
                int dk, int dv, float scale, int causal, int causalOffset) {
    __local float Qs[DKP][QW] __attribute__((aligned(16)));
    __local float KV[KVN] __attribute__((aligned(16)));
    __local float Ps[BN][QW] __attribute__((aligned(16)));
    __local float Red[TC][QW] __attribute__((aligned(16)));
    __local int vNonFinite;

    const int tx = get_local_id(0);
    const int ty = get_local_id(1);
    const int lid = ty * TC + tx;
    const int row0 = ty * RPT; // this work-item's rows are row0 ... row0 + RPT - 1
    const int bh = get_group_id(1);
    const int b = bh / heads;
    const int h = bh - b * heads;
    const int i0 = get_group_id(0) * BM;

    const int qBase = qOff + b * qB + h * qH;
    const int kBase = kOff + b * kB + h / group * kH;
    const int vBase = vOff + b * vB + h / group * vH;
    const int maskBase = b * maskB + h * maskH;

    for (int idx = lid; idx < BM * DKP; idx += NT) {
        const int r = idx / DKP;
        const int d = idx - r * DKP;
        const int i = i0 + r;
        Qs[d][r] = (i < sq && d < dk) ? q[qBase + i * qS + d] : 0.0f;
    }

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

    for (int j0 = 0; j0 < kEnd; j0 += BN) {
        // The previous tile read the flag before its last barrier; this tile
        // sets it only after its second.
        if (lid == 0) {
            vNonFinite = 0;
        }
        for (int idx = lid; idx < BN * DKP; idx += NT) {
            const int jj = idx / DKP;
            const int d = idx - jj * DKP;
            const int j = j0 + jj;
            KV[d * KW + jj] = (j < sk && d < dk) ? load_k(k, kBase + j * kS + d) : 0.0f;
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
            load_rows(qv, &Qs[d][row0]);
            #pragma unroll
            for (int c = 0; c < KPT; ++c) {
                kv[c] = KV[d * KW + tx + c * TC];
            }
            #pragma unroll
            for (int r = 0; r < RPT; ++r) {
                #pragma unroll
                for (int c = 0; c < KPT; ++c) {
                    s[r][c] = fma(qv[r], kv[c], s[r][c]);
                }
            }
        }

        float rowMax[RPT];
        #pragma unroll
        for (int r = 0; r < RPT; ++r) {
            const int i = i0 + row0 + r;
            rowMax[r] = -INFINITY;
            #pragma unroll
            for (int c = 0; c < KPT; ++c) {
                const int j = j0 + tx + c * TC;
                const float x = i >= sq || j >= sk ? -INFINITY
                    : mask_score(scale * s[r][c], i, j, b, sk, causal, causalOffset, pad, hasPad, mask, maskKind, maskBase);
                s[r][c] = x;
                rowMax[r] = nan_max(rowMax[r], x);
            }
        }
        store_rows(&Red[tx][row0], rowMax);
        barrier(CLK_LOCAL_MEM_FENCE);

        // Every work-item is past its scores: K is dead, V takes its buffer.
        for (int idx = lid; idx < BN * DVP; idx += NT) {
            const int jj = idx / DVP;
            const int d = idx - jj * DVP;
            const int j = j0 + jj;
            const float x = (j < sk && d < dv) ? load_v(v, vBase + j * vS + d) : 0.0f;
            KV[jj * VW + d] = x;
            if (!isfinite(x)) {
                vNonFinite = 1;
            }
        }

        float mNew[RPT];
        #pragma unroll
        for (int r = 0; r < RPT; ++r) {
            mNew[r] = m[r];
        }
        #pragma unroll
        for (int u = 0; u < TC; ++u) {
            float part[RPT];
            load_rows(part, &Red[u][row0]);
            #pragma unroll
            for (int r = 0; r < RPT; ++r) {
                mNew[r] = nan_max(mNew[r], part[r]);
            }
        }
        #pragma unroll
        for (int r = 0; r < RPT; ++r) {
            // exp(-inf - -inf) would be NaN: a row with nothing visible yet keeps zeros.
            const float alpha = m[r] == -INFINITY ? 0.0f : exp(m[r] - mNew[r]);
            l[r] *= alpha;
            m[r] = mNew[r];
            #pragma unroll
            for (int c = 0; c < CPT; ++c) {
                acc[r][c] *= alpha;
            }
        }
        #pragma unroll
        for (int c = 0; c < KPT; ++c) {
            float p[RPT];
            #pragma unroll
            for (int r = 0; r < RPT; ++r) {
                p[r] = m[r] == -INFINITY ? 0.0f : exp(s[r][c] - m[r]);
                l[r] += p[r];
            }
            store_rows(&Ps[tx + c * TC][row0], p);
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        const int tileKeys = min(BN, sk - j0);
        if (vNonFinite) {
            for (int jj = 0; jj < tileKeys; ++jj) {
                float pv[RPT];
                load_rows(pv, &Ps[jj][row0]);
                #pragma unroll
                for (int r = 0; r < RPT; ++r) {
                    if (pv[r] != 0.0f) {
                        #pragma unroll
                        for (int c = 0; c < CPT; ++c) {
                            acc[r][c] = fma(pv[r], KV[jj * VW + min(tx + c * TC, DVP - 1)], acc[r][c]);
                        }
                    }
                }
            }
        } else {
            for (int jj = 0; jj < BN; ++jj) {
                float pv[RPT], vv[CPT];
                load_rows(pv, &Ps[jj][row0]);
                #pragma unroll
                for (int c = 0; c < CPT; ++c) {
                    vv[c] = KV[jj * VW + min(tx + c * TC, DVP - 1)];
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
    store_rows(&Red[tx][row0], l);
    barrier(CLK_LOCAL_MEM_FENCE);
    float total[RPT];
    #pragma unroll
    for (int r = 0; r < RPT; ++r) {
        total[r] = 0.0f;
    }
    #pragma unroll
    for (int u = 0; u < TC; ++u) {
        float part[RPT];
        load_rows(part, &Red[u][row0]);
        #pragma unroll
        for (int r = 0; r < RPT; ++r) {
            total[r] += part[r];
        }
    }
    #pragma unroll
    for (int r = 0; r < RPT; ++r) {
        const int i = i0 + row0 + r;
        if (i < sq) {
            #pragma unroll
            for (int c = 0; c < CPT; ++c) {
                const int d = tx + c * TC;
                if (d < dv) {
                    out[oOff + b * oB + h * oH + i * oS + d] = total[r] == 0.0f ? 0.0f : acc[r][c] / total[r];
                }
            }
        }
    }
}
