// bmm_cpu.cl: attn_bmm_cpu, attn_bmm (bmm.cl) shaped for CPU devices such as
// PoCL: the same arguments, defines (B_NK, SKIP_ZERO_A, TM, TN, TK, RM, RN) and
// results. RN must equal TN, a multiple of 16, so each work-item owns RM whole
// rows of the TN-column tile as float16 vectors.

#if !defined(TM) || !defined(TN) || !defined(TK) || !defined(RM) || !defined(RN)
#error "bmm_cpu.cl needs -DTM, -DTN, -DTK, -DRM and -DRN"
#endif

#if TM % RM != 0 || RN != TN || TN % 16 != 0
#error "attn_bmm_cpu needs TM a multiple of RM, and RN == TN, a multiple of 16"
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
             __global const kv_t *bm, int bOff, int bB, int bH, int bS,
             __global float *c, int cOff, int cB, int cH, int cS,
             int heads, int group, int M, int N, int K, float alpha) {
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
    const int bBase = bOff + b * bB + h / group * bH;

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
                const float x = ni < N ? load_kv(bm, bBase + ni * bS + k0 + kk) : 0.0f;
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
                    x = load_kv16(bm, src + 16 * v);
                } else {
                    float lane[16];
                    for (int u = 0; u < 16; ++u) {
                        lane[u] = n0 + 16 * v + u < N ? load_kv(bm, src + 16 * v + u) : 0.0f;
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
