// softmax_cpu.cl: attn_softmax_cpu is attn_softmax (softmax.cl) for CPU
// devices: one row per work-item (global id 0), float16 vectors along the row
// and no barriers, with the same arguments, masks and results. Pass 1 finds the row max, pass 2 stores exp(x - max) in dst
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

__kernel void attn_softmax_cpu(__global float *dst, __global const float *scores, int rows, int heads,
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
