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
// native_exp). K (V) is half with K_HALF (V_HALF). The partials share one buffer
// (DECODE_PART_MAX in common.cl): pOut [splits][rows][dv], then pMax and pSum
// [splits][rows], rows = batch*heads*sq indexed (b*heads + h)*sq + i.
//
// decode_split (GPUs): NT work-items. Each work-item scores whole keys (all RB
// rows, K read along the head dim, the query rows broadcast from local memory)
// into a local score block S[RB][SL] holding the whole slice; the row maxima and
// sums are reduced once per slice; then the work-items, lanes along the value
// columns (4 per work-item, consecutive work-items on consecutive columns:
// coalesced V reads) and KG key groups, accumulate p*v in registers, and the key
// groups are summed through local memory. No barrier sits inside a loop.
//
// decode_cpu.cl holds decode_split_cpu, the same split shaped for CPU devices.
//
// Defines: RB rows per work-group, NT work-items, SL the most keys of a slice,
// DKP and DVP the head dims padded (multiples of 16).

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
DEFINE_ROW_LOAD(load4_k, k_t, 4, load_k, load_k4)
DEFINE_ROW_LOAD(load4_v, v_t, 4, load_v, load_v4)

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
    DECODE_SLOT(gid, get_num_groups(0), splits, rowBlocks, heads, group, sq, RB);
    __global float *pOut = part;
    __global float *pMax = DECODE_PART_MAX(part, splits, rows, dv);
    __global float *pSum = DECODE_PART_SUM(part, splits, rows, dv);

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

    // Scores: one key per work-item at a time, every row of the block, the
    // query rows read from local memory (a broadcast).
    for (int jj = lid; jj < n; jj += NT) {
        const int j = j0 + jj;
        __global const k_t *kr = k + kBase + j * kS;
        float s[RB];
        #pragma unroll
        for (int r = 0; r < RB; ++r) {
            s[r] = 0.0f;
        }
        // Unrolled so that a work-item has several loads of its K row in flight
        // (by 4: by 8 the H100 spills at 8 rows of head dim 32, make gpu-offline).
        #pragma unroll 4
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


// decode_combine merges the splits of each row into out (a [B, H, Sq, Dv] view):
// one work-item per output element, the elements along dimension 0.
__kernel void decode_combine(__global const float *part, int splits, int rows, int heads, int sq, int dv,
                             __global float *out, int oOff, int oB, int oH, int oS) {
    const int idx = get_global_id(0);
    if (idx >= rows * dv) {
        return;
    }
    __global const float *pOut = part;
    __global const float *pMax = DECODE_PART_MAX(part, splits, rows, dv);
    __global const float *pSum = DECODE_PART_SUM(part, splits, rows, dv);
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
