// Decode attention (flash-decoding): the fused attention of flash.cl for a few
// query rows (Sq 1..16, one decode step or a short chunk) against a long K/V,
// where one work-group per (batch, head) would leave most of the device idle
// and read every K/V head once per query head.
//
// The rows of one (batch, KV head) are its group's query heads times Sq: row rr
// is query head kvh*group + rr / sq, position rr % sq. They are cut into blocks
// of RB rows, and the keys into splits of sliceLen keys. One work-group takes one
// (batch, KV head, row block, split): it reads the K/V rows of its slice once for
// all RB rows, and writes for each row its partial max m, partial sum
// l = sum exp(s - m) and unnormalised output sum p*v. decode_combine then merges
// the splits of each row: M = max m_s, out = sum o_s e^(m_s - M) / sum l_s e^(m_s - M).
// Work-groups are numbered along dimension 0 only (NVIDIA allows 65535 along 1, 2):
// group = ((b*hkv + kvh)*rowBlocks + rowBlock)*splits + split.
//
// Masks and numerics are flash.cl's (mask_score in common.cl): a masked score is
// replaced by -inf, a row with nothing visible gives zeros, values whose
// probability is exactly 0 are skipped so NaN or Inf there never leaks, exp (not
// native_exp). K (V) is half with K_HALF (V_HALF). The partials share one buffer,
// part: pOut [splits][rows][dv], then pMax and pSum [splits][rows], rows =
// batch*heads*sq indexed (b*heads + h)*sq + i.
//
// decode_split_cpu (DECODE_CPU, for CPU devices such as PoCL): one work-item per
// work-group, float16 vectors along the head dim. It walks its slice in chunks
// of KC keys, two keys at a time: each K row is read and converted once and
// dotted with every row of the block (the query pre-scaled), and the key's V row
// is read in the same sequential sweep and kept converted; the chunk's scores
// get an online softmax as float16 vectors (vector exp); then value columns
// outer, keys inner, the block's accumulators stay in registers. Only a chunk
// with a probability of exactly 0 takes the branch that skips such values.
//
// decode_split (GPUs): NT work-items. Each work-item scores whole keys (all RB
// rows, K read along the head dim, the query rows broadcast from local memory)
// into a local score block S[RB][SL] holding the whole slice; the row maxima and
// sums are reduced once per slice; then the work-items, lanes along the value
// columns (4 per work-item, consecutive work-items on consecutive columns:
// coalesced V reads) and KG key groups, accumulate p*v in registers, and the key
// groups are summed through local memory. No barrier sits inside a loop.
//
// Defines: RB rows per work-group, DKP and DVP the head dims padded (multiples of
// 16), with DECODE_CPU nothing else; otherwise NT work-items, SL the most keys of
// a slice.

#ifndef RB
#define RB 4
#endif
#ifndef DKP
#define DKP 64
#endif
#ifndef DVP
#define DVP 64
#endif
#ifndef NT
#define NT 64
#endif
#ifndef SL
#define SL 256
#endif

#if DKP % 16 != 0 || DVP % 16 != 0
#error "DKP and DVP must be multiples of 16"
#endif

// decode_row maps row rr of KV head kvh's block to its query head h and position
// i, and returns its index in the partial arrays.
inline int decode_row(int rr, int b, int kvh, int heads, int group, int sq, int *h, int *i) {
    const int hh = rr / sq;
    *i = rr - hh * sq;
    *h = kvh * group + hh;
    return (b * heads + *h) * sq + *i;
}

#ifdef DECODE_CPU

#define DKV (DKP / 16)
#define DVV (DVP / 16)
#define KC 64 // keys per chunk

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
#define DEFINE_LOAD_ROW16(name, T, LOAD, LOAD16)                 \
    inline float16 name(__global const T *p, int d0, int n) {    \
        if (d0 + 16 <= n) {                                      \
            return LOAD16(p, d0);                                \
        }                                                        \
        float lane[16];                                          \
        for (int u = 0; u < 16; ++u) {                           \
            lane[u] = d0 + u < n ? LOAD(p, d0 + u) : 0.0f;       \
        }                                                        \
        return vload16(0, lane);                                 \
    }
DEFINE_LOAD_ROW16(load_k_row16, k_t, load_k, load_k16)
DEFINE_LOAD_ROW16(load_v_row16, v_t, load_v, load_v16)

// load_q16 reads elements d0 ... d0+15 of a query row of n floats at p, zeros past n.
inline float16 load_q16(__global const float *p, int d0, int n) {
    if (d0 + 16 <= n) {
        return vload16(0, p + d0);
    }
    float lane[16];
    for (int u = 0; u < 16; ++u) {
        lane[u] = d0 + u < n ? p[d0 + u] : 0.0f;
    }
    return vload16(0, lane);
}

__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
decode_split_cpu(__global const float *q, int qOff, int qB, int qH, int qS,
                 __global const k_t *k, int kOff, int kB, int kH, int kS,
                 __global const v_t *v, int vOff, int vB, int vH, int vS,
                 __global const float *mask, int maskKind, int maskB, int maskH,
                 __global const float *pad, int hasPad, int heads, int group, int sq, int sk,
                 int dk, int dv, float scale, int causal, int causalOffset,
                 int rowBlocks, int splits, int sliceLen, __global float *part) {
    const int gid = get_group_id(0);
    const int split = gid % splits;
    const int rb = gid / splits % rowBlocks;
    const int bk = gid / splits / rowBlocks;
    const int hkv = heads / group;
    const int b = bk / hkv;
    const int kvh = bk - b * hkv;
    const int groupRows = group * sq;
    const int rows = get_global_size(0) / (splits * rowBlocks) * group * sq;
    const int nr = min(RB, groupRows - rb * RB);
    __global float *pOut = part;
    __global float *pMax = pOut + splits * rows * dv;
    __global float *pSum = pMax + splits * rows;

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

#else // !DECODE_CPU

#define CV (DVP / 4)                       // 4-column groups of a value row
#define KG (CV >= NT ? 1 : NT / CV)        // key groups of the p*v phase
#define CPT ((CV + NT - 1) / NT)           // column groups per work-item
#define SBUF (RB * SL > KG * RB * DVP ? RB * SL : KG * RB * DVP)
#define WPR (NT / RB)                      // work-items per row in the reductions

#if NT % RB != 0
#error "NT must be a multiple of RB"
#endif

// load4_k (load4_v) reads elements d ... d+3 of a K (V) row of n elements at p,
// zeros past n.
#define DEFINE_LOAD4(name, T, LOAD, LOAD4)                       \
    inline float4 name(__global const T *p, int d, int n) {      \
        if (d + 4 <= n) {                                        \
            return LOAD4(p, d);                                  \
        }                                                        \
        float x[4];                                              \
        for (int e = 0; e < 4; ++e) {                            \
            x[e] = d + e < n ? LOAD(p, d + e) : 0.0f;            \
        }                                                        \
        return vload4(0, x);                                     \
    }
DEFINE_LOAD4(load4_k, k_t, load_k, load_k4)
DEFINE_LOAD4(load4_v, v_t, load_v, load_v4)

__kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void
decode_split(__global const float *q, int qOff, int qB, int qH, int qS,
             __global const k_t *k, int kOff, int kB, int kH, int kS,
             __global const v_t *v, int vOff, int vB, int vH, int vS,
             __global const float *mask, int maskKind, int maskB, int maskH,
             __global const float *pad, int hasPad, int heads, int group, int sq, int sk,
             int dk, int dv, float scale, int causal, int causalOffset,
             int rowBlocks, int splits, int sliceLen, __global float *part) {
    __local float4 Qs[RB][DKP / 4];
    __local float S[SBUF];
    __local float Red[NT];
    __local float RowMax[RB];
    __local float RowSum[RB];

    const int lid = get_local_id(0);
    const int gid = get_group_id(0);
    const int split = gid % splits;
    const int rb = gid / splits % rowBlocks;
    const int bk = gid / splits / rowBlocks;
    const int hkv = heads / group;
    const int b = bk / hkv;
    const int kvh = bk - b * hkv;
    const int groupRows = group * sq;
    const int rows = get_num_groups(0) / (splits * rowBlocks) * group * sq;
    const int nr = min(RB, groupRows - rb * RB);
    __global float *pOut = part;
    __global float *pMax = pOut + splits * rows * dv;
    __global float *pSum = pMax + splits * rows;

    // The query rows of the block, zero past dk and for rows past the group.
    for (int idx = lid; idx < RB * DKP / 4; idx += NT) {
        const int r = idx / (DKP / 4);
        const int c = idx - r * (DKP / 4);
        int h = 0, i = 0;
        float x[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (r < nr) {
            decode_row(rb * RB + r, b, kvh, heads, group, sq, &h, &i);
            const int base = qOff + b * qB + h * qH + i * qS;
            for (int e = 0; e < 4; ++e) {
                if (4 * c + e < dk) {
                    x[e] = q[base + 4 * c + e];
                }
            }
        }
        Qs[r][c] = vload4(0, x);
    }
    // The keys of the slice that some row of the block may see.
    int lastVisible = -1;
    for (int r = 0; r < nr; ++r) {
        int h, i;
        decode_row(rb * RB + r, b, kvh, heads, group, sq, &h, &i);
        lastVisible = max(lastVisible, causal ? min(i + causalOffset, sk - 1) : sk - 1);
    }
    const int j0 = split * sliceLen;
    const int n = max(0, min(min(sliceLen, sk - j0), lastVisible + 1 - j0));
    const int kBase = kOff + b * kB + kvh * kH;
    const int vBase = vOff + b * vB + kvh * vH;
    barrier(CLK_LOCAL_MEM_FENCE);

    // Scores: one key per work-item at a time, every row of the block.
    for (int jj = lid; jj < n; jj += NT) {
        const int j = j0 + jj;
        __global const k_t *kr = k + kBase + j * kS;
        float s[RB];
        #pragma unroll
        for (int r = 0; r < RB; ++r) {
            s[r] = 0.0f;
        }
        // Unrolled so that a work-item has several loads of its K row in flight.
        #pragma unroll 8
        for (int c = 0; c < DKP / 4; ++c) {
            const float4 kv4 = load4_k(kr, 4 * c, dk);
            #pragma unroll
            for (int r = 0; r < RB; ++r) {
                const float4 q4 = Qs[r][c];
                s[r] = fma(q4.s0, kv4.s0, fma(q4.s1, kv4.s1, fma(q4.s2, kv4.s2, fma(q4.s3, kv4.s3, s[r]))));
            }
        }
        #pragma unroll
        for (int r = 0; r < RB; ++r) {
            float x = -INFINITY;
            if (r < nr) {
                int h, i;
                decode_row(rb * RB + r, b, kvh, heads, group, sq, &h, &i);
                x = mask_score(scale * s[r], i, j, b, sk, causal, causalOffset, pad, hasPad, mask, maskKind,
                               b * maskB + h * maskH);
            }
            S[r * SL + jj] = x;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    // Row maxima: WPR work-items per row take strided keys, then one combines.
    const int rr = lid / WPR, wr = lid - rr * WPR;
    {
        float mx = -INFINITY;
        for (int jj = wr; jj < n; jj += WPR) {
            mx = nan_max(mx, S[rr * SL + jj]);
        }
        Red[lid] = mx;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (wr == 0) {
        float mx = -INFINITY;
        for (int u = 0; u < WPR; ++u) {
            mx = nan_max(mx, Red[lid + u]);
        }
        RowMax[rr] = mx;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    // Probabilities in place of the scores, and their sums.
    {
        const float mx = RowMax[rr];
        float sum = 0.0f;
        for (int jj = wr; jj < n; jj += WPR) {
            // exp(-inf - -inf) would be NaN: a row with nothing visible keeps zeros.
            const float p = mx == -INFINITY ? 0.0f : exp(S[rr * SL + jj] - mx);
            S[rr * SL + jj] = p;
            sum += p;
        }
        Red[lid] = sum;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (wr == 0) {
        float sum = 0.0f;
        for (int u = 0; u < WPR; ++u) {
            sum += Red[lid + u];
        }
        RowSum[rr] = sum;
    }

    // p*v: column group cg (4 columns), key group kg.
    const int kg = lid / min(CV, NT);
    const int cg0 = lid - kg * min(CV, NT);
    float4 acc[RB][CPT];
    #pragma unroll
    for (int r = 0; r < RB; ++r) {
        #pragma unroll
        for (int c = 0; c < CPT; ++c) {
            acc[r][c] = 0.0f;
        }
    }
    if (kg < KG) {
        for (int jj = kg; jj < n; jj += KG) {
            __global const v_t *vr = v + vBase + (j0 + jj) * vS;
            #pragma unroll
            for (int c = 0; c < CPT; ++c) {
                const int cg = cg0 + c * NT;
                const float4 v4 = cg < CV ? load4_v(vr, 4 * cg, dv) : (float4)0.0f;
                #pragma unroll
                for (int r = 0; r < RB; ++r) {
                    const float p = S[r * SL + jj];
                    // Values whose probability is exactly 0 are skipped, so NaN or Inf there never leaks.
                    if (p != 0.0f) {
                        acc[r][c] = fma((float4)p, v4, acc[r][c]);
                    }
                }
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    // The key groups' sums, through S (the probabilities are dead).
    if (kg < KG) {
        #pragma unroll
        for (int r = 0; r < RB; ++r) {
            #pragma unroll
            for (int c = 0; c < CPT; ++c) {
                const int cg = cg0 + c * NT;
                if (cg < CV) {
                    vstore4(acc[r][c], 0, &S[(kg * RB + r) * DVP + 4 * cg]);
                }
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int idx = lid; idx < nr * dv; idx += NT) {
        const int r = idx / dv;
        const int d = idx - r * dv;
        float o = 0.0f;
        for (int g = 0; g < KG; ++g) {
            o += S[(g * RB + r) * DVP + d];
        }
        int h, i;
        const int at = split * rows + decode_row(rb * RB + r, b, kvh, heads, group, sq, &h, &i);
        pOut[at * dv + d] = o;
        if (d == 0) {
            pMax[at] = RowMax[r];
            pSum[at] = RowSum[r];
        }
    }
}

#endif // DECODE_CPU

// decode_combine merges the splits of each row into out (a [B, H, Sq, Dv] view):
// one work-item per output element, the elements along dimension 0.
__kernel void decode_combine(__global const float *part, int splits, int rows, int heads, int sq, int dv,
                             __global float *out, int oOff, int oB, int oH, int oS) {
    const int idx = get_global_id(0);
    if (idx >= rows * dv) {
        return;
    }
    __global const float *pOut = part;
    __global const float *pMax = pOut + splits * rows * dv;
    __global const float *pSum = pMax + splits * rows;
    const int row = idx / dv;
    const int d = idx - row * dv;
    float mx = -INFINITY;
    for (int s = 0; s < splits; ++s) {
        mx = nan_max(mx, pMax[s * rows + row]);
    }
    float sum = 0.0f, o = 0.0f;
    if (mx != -INFINITY) {
        for (int s = 0; s < splits; ++s) {
            const float ms = pMax[s * rows + row];
            if (ms != -INFINITY) {
                const float w = exp(ms - mx);
                sum = fma(pSum[s * rows + row], w, sum);
                o = fma(pOut[(s * rows + row) * dv + d], w, o);
            }
        }
    }
    const int i = row % sq;
    const int bh = row / sq;
    const int b = bh / heads;
    const int h = bh - b * heads;
    out[oOff + b * oB + h * oH + i * oS + d] = sum == 0.0f ? 0.0f : o / sum;
}
