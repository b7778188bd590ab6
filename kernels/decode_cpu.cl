// decode_split_cpu is decode_split (decode.cl: the split, partials, masks and
// numerics) shaped for CPU devices such as PoCL: one work-item per
// work-group, float16 vectors along the head dim. It walks its slice in chunks
// of KC keys, two keys at a time: each K row is read and converted once and
// dotted with every row of the block (the query pre-scaled), and the key's V row
// is read in the same sequential sweep and kept converted; the chunk's scores
// get an online softmax as float16 vectors (vector exp); then value columns
// outer, keys inner, the block's accumulators stay in registers. Only a chunk
// with a probability of exactly 0 takes the branch that skips such values. The
// rows PF keys ahead are prefetched (clang's __builtin_prefetch, where the
// compiler has it: PoCL's prefetch() does nothing), since one core's own loads
// keep too few lines in flight.
//
// Defines: RB rows per work-group, DKP and DVP the head dims padded (multiples of 16).

#ifndef RB
#define RB 4
#endif
#ifndef DKP
#define DKP 64
#endif
#ifndef DVP
#define DVP 64
#endif

#if DKP % 16 != 0 || DVP % 16 != 0
#error "DKP and DVP must be multiples of 16"
#endif

#define DKV (DKP / 16)
#define DVV (DVP / 16)
#define KC 64 // keys per chunk
#define PF 64 // keys ahead whose K and V rows are prefetched

#if KC % 16 != 0
#error "KC must be a multiple of 16"
#endif

// nan_hmax16 is the largest lane of x, NaN if any lane is NaN.
inline float nan_hmax16(float16 x) {
    float8 a = select(x.hi, x.lo, (x.lo > x.hi) || isnan(x.lo));
    float4 b = select(a.hi, a.lo, (a.lo > a.hi) || isnan(a.lo));
    float2 c = select(b.hi, b.lo, (b.lo > b.hi) || isnan(b.lo));
    return nan_max(c.x, c.y);
}

// load_k_row16 (load_v_row16) reads elements d0 ... d0+15 of a K (V) row of n
// elements at p, zeros past n.
DEFINE_ROW_LOAD(load_k_row16, k_t, 16, load_k, load_k16)
DEFINE_ROW_LOAD(load_v_row16, v_t, 16, load_v, load_v16)

// load_q16 reads elements d0 ... d0+15 of a query row of n floats at p, zeros past n.
DEFINE_ROW_LOAD(load_q16, float, 16, load_f32, load_f32x16)

__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
decode_split_cpu(__global const float *q, int qOff, int qB, int qH, int qS,
                 __global const k_t *k, int kOff, int kB, int kH, int kS,
                 __global const v_t *v, int vOff, int vB, int vH, int vS,
                 __global const float *mask, int maskKind, int maskB, int maskH,
                 __global const float *pad, int hasPad, int heads, int group, int sq, int sk,
                 int dk, int dv, float scale, int causal, int causalOffset,
                 int rowBlocks, int splits, int sliceLen, __global float *part) {
    const int gid = get_group_id(0);
    DECODE_SLOT(gid, get_num_groups(0), splits, rowBlocks, heads, group, sq, RB);
    __global float *pOut = part;
    __global float *pMax = DECODE_PART_MAX(part, splits, rows, dv);
    __global float *pSum = DECODE_PART_SUM(part, splits, rows, dv);

    int row[RB], qi[RB], maskBase[RB];
    float16 qv[RB][DKV], acc[RB][DVV];
    float m[RB], l[RB];
    int lastVisible = -1; // the last key any row of the block sees
    for (int r = 0; r < RB; ++r) {
        int h = 0, i = 0;
        row[r] = r < nr ? decode_row(rb * RB + r, b, kvh, heads, group, sq, &h, &i) : -1;
        qi[r] = i;
        maskBase[r] = b * maskB + h * maskH;
        for (int c = 0; c < DKV; ++c) {
            qv[r][c] = r < nr ? scale * load_q16(q + qOff + b * qB + h * qH + i * qS, 16 * c, dk) : 0.0f;
        }
        for (int c = 0; c < DVV; ++c) {
            acc[r][c] = 0.0f;
        }
        m[r] = -INFINITY;
        l[r] = 0.0f;
        if (r < nr) {
            lastVisible = max(lastVisible, causal ? min(i + causalOffset, sk - 1) : sk - 1);
        }
    }

    const int kBase = kOff + b * kB + kvh * kH;
    const int vBase = vOff + b * vB + kvh * vH;
    const int j0 = split * sliceLen;
    const int j1 = min(min(j0 + sliceLen, sk), lastVisible + 1);
    const bool maskOrPad = hasPad || maskKind != 0;

    float sc[RB][KC];      // scores, then probabilities, of the chunk
    float16 vc[KC][DVV];   // the chunk's values as floats
    for (int c0 = j0; c0 < j1; c0 += KC) {
        const int n = min(KC, j1 - c0);
        bool zeroP = false; // some probability of the chunk is exactly 0
        // Scores: each K row read (and converted) once for every row of the
        // block, two keys at a time, so that 2*RB independent FMA chains (and
        // their horizontal sums) overlap instead of waiting on each other.
        for (int u = 0; u < n; u += 2) {
            const bool two = u + 1 < n;
            __global const k_t *k0 = k + kBase + (c0 + u) * kS;
            __global const k_t *k1 = two ? k0 + kS : k0;
            float16 s0[RB], s1[RB];
            #pragma unroll
            for (int r = 0; r < RB; ++r) {
                s0[r] = 0.0f;
                s1[r] = 0.0f;
            }
            #pragma unroll
            for (int c = 0; c < DKV; ++c) {
                const float16 x0 = load_k_row16(k0, 16 * c, dk);
                const float16 x1 = load_k_row16(k1, 16 * c, dk);
                #pragma unroll
                for (int r = 0; r < RB; ++r) {
                    s0[r] = fma(x0, qv[r][c], s0[r]);
                    s1[r] = fma(x1, qv[r][c], s1[r]);
                }
            }
            #pragma unroll
            for (int r = 0; r < RB; ++r) {
                sc[r][u] = hsum16(s0[r]);
                if (two) {
                    sc[r][u + 1] = hsum16(s1[r]);
                }
            }
#ifdef HAVE_PREFETCH
            // Prefetch the K and V rows PF keys ahead, a line at a time.
            if (c0 + u + PF + 1 < j1) {
                __global const uchar *kp = (__global const uchar *)(k0 + PF * kS);
                __global const uchar *vp = (__global const uchar *)(v + vBase + (c0 + u + PF) * vS);
                for (int e = 0; e < 2 * dk * (int)sizeof(k_t); e += 64) {
                    __builtin_prefetch(kp + e);
                }
                for (int e = 0; e < 2 * dv * (int)sizeof(v_t); e += 64) {
                    __builtin_prefetch(vp + e);
                }
            }
#endif
            // The keys' V rows, read in the same sequential sweep, converted once.
            __global const v_t *v0 = v + vBase + (c0 + u) * vS;
            #pragma unroll
            for (int c = 0; c < DVV; ++c) {
                vc[u][c] = load_v_row16(v0, 16 * c, dv);
            }
            if (two) {
                #pragma unroll
                for (int c = 0; c < DVV; ++c) {
                    vc[u + 1][c] = load_v_row16(v0 + vS, 16 * c, dv);
                }
            }
        }
        // Online softmax over the chunk, 16 keys a vector.
        for (int r = 0; r < nr; ++r) {
            const int i = qi[r];
            float16 mx16 = -INFINITY;
            for (int u0 = 0; u0 < KC; u0 += 16) {
                float16 x = vload16(0, &sc[r][u0]);
                // Lane by lane only where a mask can hide a key.
                if (maskOrPad || u0 + 16 > n || (causal && c0 + u0 + 15 > i + causalOffset)) {
                    for (int e = 0; e < 16; ++e) {
                        sc[r][u0 + e] = u0 + e >= n ? -INFINITY
                            : mask_score(sc[r][u0 + e], i, c0 + u0 + e, b, sk, causal, causalOffset, pad, hasPad,
                                         mask, maskKind, maskBase[r]);
                    }
                    x = vload16(0, &sc[r][u0]);
                }
                mx16 = select(mx16, x, (x > mx16) || isnan(x));
            }
            const float mNew = nan_max(m[r], nan_hmax16(mx16));
            // exp(-inf - -inf) would be NaN: a row with nothing visible yet keeps zeros.
            const float alpha = m[r] == -INFINITY ? 0.0f : exp(m[r] - mNew);
            float16 sum = 0.0f;
            int16 zero = 0;
            for (int u0 = 0; u0 < KC; u0 += 16) {
                const float16 p = mNew == -INFINITY ? (float16)0.0f : exp(vload16(0, &sc[r][u0]) - mNew);
                vstore16(p, 0, &sc[r][u0]);
                sum += p;
                zero |= p == 0.0f;
            }
            zeroP |= any(zero);
            l[r] = l[r] * alpha + hsum16(sum);
            m[r] = mNew;
            for (int c = 0; c < DVV; ++c) {
                acc[r][c] *= alpha;
            }
        }
        // p*v: value columns outer, keys inner, so the block's accumulators of a
        // column group stay in registers; each V element is read once. Where a
        // probability is exactly 0 its value is skipped, so NaN or Inf there
        // (a masked or padded key) never leaks.
        #pragma unroll
        for (int c = 0; c < DVV; ++c) {
            float16 a[RB];
            #pragma unroll
            for (int r = 0; r < RB; ++r) {
                a[r] = acc[r][c];
            }
            if (zeroP) {
                for (int u = 0; u < n; ++u) {
                    const float16 vv = vc[u][c];
                    for (int r = 0; r < nr; ++r) {
                        if (sc[r][u] != 0.0f) {
                            a[r] = fma((float16)sc[r][u], vv, a[r]);
                        }
                    }
                }
            } else {
                // Two keys at a time into two sums per row: 2*RB independent chains.
                float16 b2[RB];
                #pragma unroll
                for (int r = 0; r < RB; ++r) {
                    b2[r] = 0.0f;
                }
                int u = 0;
                for (; u + 1 < n; u += 2) {
                    const float16 x0 = vc[u][c];
                    const float16 x1 = vc[u + 1][c];
                    #pragma unroll
                    for (int r = 0; r < RB; ++r) {
                        a[r] = fma((float16)sc[r][u], x0, a[r]);
                        b2[r] = fma((float16)sc[r][u + 1], x1, b2[r]);
                    }
                }
                if (u < n) {
                    const float16 x0 = vc[u][c];
                    #pragma unroll
                    for (int r = 0; r < RB; ++r) {
                        a[r] = fma((float16)sc[r][u], x0, a[r]);
                    }
                }
                #pragma unroll
                for (int r = 0; r < RB; ++r) {
                    a[r] += b2[r];
                }
            }
            #pragma unroll
            for (int r = 0; r < RB; ++r) {
                acc[r][c] = a[r];
            }
        }
    }

    for (int r = 0; r < nr; ++r) {
        const int at = split * rows + row[r];
        pMax[at] = m[r];
        pSum[at] = l[r];
        __global float *o = pOut + at * dv;
        for (int c = 0; c < DVV; ++c) {
            float lane[16];
            vstore16(acc[r][c], 0, lane);
            for (int e = 0; e < 16 && 16 * c + e < dv; ++e) {
                o[16 * c + e] = lane[e];
            }
        }
    }
}

