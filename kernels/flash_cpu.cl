// Fused scaled dot-product attention for CPU OpenCL devices (PoCL): the same
// operation, arguments and numerics as flash_attention in flash.cl (grouped-query
// heads, K/V half with K_HALF/V_HALF), written with
// explicit float16 vectors instead of relying on the implicit work-item
// vectorizer, which cannot see through the per-row online softmax.
//
// A work-group of NW work-items owns NW*RB query rows of one (batch, head); each
// work-item keeps RB query rows and their output accumulators in private memory.
// Keys go in tiles of KB: the work-group stores the K tile transposed in local
// memory (so 16 consecutive keys are one vector load), then every work-item walks
// it 16 keys at a time: scores as RB float16 vectors, online softmax per row, and
// the probabilities times rows of V read straight from global memory (the tile
// stays in cache). Extra memory is O(DKP * KB) per work-group.
//
// Defines: RB rows per work-item, NW work-items per group, KB keys per tile
// (a multiple of 16), DKP and DVP the head dims padded to multiples of 16.

#ifndef RB
#define RB 4
#endif
#ifndef NW
#define NW 4
#endif
#ifndef KB
#define KB 128
#endif
#ifndef DKP
#define DKP 64
#endif
#ifndef DVP
#define DVP 64
#endif

#define VW 16
#define DVV (DVP / VW)

#if KB % VW != 0 || DKP % VW != 0 || DVP % VW != 0
#error "KB, DKP and DVP must be multiples of 16"
#endif

inline float16 nan_max16(float16 a, float16 b) { return select(b, a, (a > b) || isnan(a)); }

inline float hmax16(float16 x) {
    float8 a = select(x.hi, x.lo, (x.lo > x.hi) || isnan(x.lo));
    float4 b = select(a.hi, a.lo, (a.lo > a.hi) || isnan(a.lo));
    float2 c = select(b.hi, b.lo, (b.lo > b.hi) || isnan(b.lo));
    return nan_max(c.x, c.y);
}

__kernel __attribute__((reqd_work_group_size(NW, 1, 1))) void
flash_attention_cpu(__global const float *q, int qOff, int qB, int qH, int qS,
                    __global const k_t *k, int kOff, int kB, int kH, int kS,
                    __global const v_t *v, int vOff, int vB, int vH, int vS,
                    __global float *out, int oOff, int oB, int oH, int oS,
                    __global const float *mask, int maskKind, int maskB, int maskH,
                    __global const float *pad, int hasPad, int heads, int group, int sq, int sk,
                    int dk, int dv, float scale, int causal, int causalOffset) {
    __local float Kt[DKP][KB];
    __local int vNonFinite[2];

    const int w = get_local_id(0);
    const int bh = get_group_id(1);
    const int b = bh / heads;
    const int h = bh - b * heads;
    const int g0 = get_group_id(0) * NW * RB;
    const int i0 = g0 + w * RB;

    const int qBase = qOff + b * qB + h * qH;
    const int kBase = kOff + b * kB + h / group * kH;
    const int vBase = vOff + b * vB + h / group * vH;
    const int maskBase = b * maskB + h * maskH;
    const bool maskOrPad = hasPad || maskKind != 0;

    float qr[RB][DKP];
    float16 acc[RB][DVV];
    float m[RB], l[RB];
    for (int r = 0; r < RB; ++r) {
        const int i = i0 + r;
        for (int d = 0; d < DKP; ++d) {
            qr[r][d] = (i < sq && d < dk) ? q[qBase + i * qS + d] : 0.0f;
        }
        for (int c = 0; c < DVV; ++c) {
            acc[r][c] = 0.0f;
        }
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    if (w == 0) {
        vNonFinite[0] = 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    // Keys past the last one any row may see are skipped, for the group and for each work-item.
    const int groupEnd = causal ? clamp(min(g0 + NW * RB, sq) - 1 + causalOffset + 1, 0, sk) : sk;
    const int myEnd = causal ? clamp(min(i0 + RB, sq) - 1 + causalOffset + 1, 0, sk) : sk;

    for (int t0 = 0, t = 0; t0 < groupEnd; t0 += KB, ++t) {
        if (w == 0) {
            vNonFinite[(t + 1) & 1] = 0;
        }
        const int tileKeys = min(KB, sk - t0);
        for (int jj = w; jj < KB; jj += NW) {
            const int j = t0 + jj;
            for (int d = 0; d < DKP; ++d) {
                Kt[d][jj] = (jj < tileKeys && d < dk) ? load_k(k, kBase + j * kS + d) : 0.0f;
            }
            bool bad = false;
            for (int d = 0; jj < tileKeys && d < dv; ++d) {
                bad |= !isfinite(load_v(v, vBase + j * vS + d));
            }
            if (bad) {
                vNonFinite[t & 1] = 1;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        const bool skipZero = vNonFinite[t & 1] != 0;
        const int end = min(tileKeys, myEnd - t0);
        for (int c0 = 0; c0 < end; c0 += VW) {
            float16 s[RB];
            for (int r = 0; r < RB; ++r) {
                s[r] = 0.0f;
            }
            for (int d = 0; d < DKP; ++d) {
                const float16 kv = vload16(0, &Kt[d][c0]);
#pragma unroll
                for (int r = 0; r < RB; ++r) {
                    s[r] = fma((float16)qr[r][d], kv, s[r]);
                }
            }
            const bool full = c0 + VW <= end;
            float pl[RB][VW];
            for (int r = 0; r < RB; ++r) {
                const int i = i0 + r;
                float16 x = scale * s[r];
                // Lane by lane only where a mask can hide a key: a causal chunk
                // wholly left of the diagonal takes the vector path.
                if (maskOrPad || !full || i >= sq || (causal && t0 + c0 + VW - 1 > i + causalOffset)) {
                    float lane[VW];
                    vstore16(x, 0, lane);
                    for (int u = 0; u < VW; ++u) {
                        const int j = t0 + c0 + u;
                        lane[u] = i >= sq || c0 + u >= end ? -INFINITY
                            : mask_score(lane[u], i, j, b, sk, causal, causalOffset, pad, hasPad, mask, maskKind, maskBase);
                    }
                    x = vload16(0, lane);
                }
                const float mNew = nan_max(m[r], hmax16(x));
                // exp(-inf - -inf) would be NaN: a row with nothing visible yet keeps zeros.
                const float alpha = m[r] == -INFINITY ? 0.0f : exp(m[r] - mNew);
                const float16 p = mNew == -INFINITY ? (float16)0.0f : exp(x - mNew);
                l[r] = l[r] * alpha + hsum16(p);
                m[r] = mNew;
                vstore16(p, 0, pl[r]);
                for (int c = 0; c < DVV; ++c) {
                    acc[r][c] *= alpha;
                }
            }

            // Output columns outer, keys inner: the RB accumulators stay in registers.
            const int n = min(VW, end - c0);
            for (int c = 0; c < DVV; ++c) {
                const int d0 = c * VW;
                float16 a[RB];
#pragma unroll
                for (int r = 0; r < RB; ++r) {
                    a[r] = acc[r][c];
                }
                for (int u = 0; u < n; ++u) {
                    const int j = t0 + c0 + u;
                    float16 vv;
                    if (d0 + VW <= dv) {
                        vv = load_v16(v, vBase + j * vS + d0);
                    } else {
                        float tmp[VW];
                        for (int e = 0; e < VW; ++e) {
                            tmp[e] = d0 + e < dv ? load_v(v, vBase + j * vS + d0 + e) : 0.0f;
                        }
                        vv = vload16(0, tmp);
                    }
                    if (skipZero) {
                        // Values whose probability is exactly 0 are skipped: this tile holds NaN or Inf.
#pragma unroll
                        for (int r = 0; r < RB; ++r) {
                            if (pl[r][u] != 0.0f) {
                                a[r] = fma((float16)pl[r][u], vv, a[r]);
                            }
                        }
                    } else {
#pragma unroll
                        for (int r = 0; r < RB; ++r) {
                            a[r] = fma((float16)pl[r][u], vv, a[r]);
                        }
                    }
                }
#pragma unroll
                for (int r = 0; r < RB; ++r) {
                    acc[r][c] = a[r];
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int r = 0; r < RB; ++r) {
        const int i = i0 + r;
        if (i >= sq) {
            continue;
        }
        for (int c = 0; c < DVV; ++c) {
            const float16 o = l[r] == 0.0f ? (float16)0.0f : acc[r][c] / l[r];
            float lane[VW];
            vstore16(o, 0, lane);
            for (int e = 0; e < VW && c * VW + e < dv; ++e) {
                out[oOff + b * oB + h * oH + i * oS + c * VW + e] = lane[e];
            }
        }
    }
}
