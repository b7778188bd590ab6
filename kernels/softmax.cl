// softmax.cl: attn_softmax, the masked, normalised attention weights of the
// unfused path (Softmax); softmax_cpu.cl holds its CPU variant.

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
