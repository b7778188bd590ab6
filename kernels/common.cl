// common.cl: definitions every kernel file shares. Source (kernels.go) builds
// each program from this file followed by the kernel's own, so an activation or
// a mask means the same thing in every kernel.

// Activations of the fused epilogues, as backend.Activation.
#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_GELU 2
#define ACT_SILU 3

// activate applies act (SiLU is v * sigmoid(v)). ReLU keeps NaN (fmax alone would turn it into 0), as
// PyTorch's and cpuref's do. GELU is the exact x/2 * (1 + erf(x/sqrt 2)), written
// with erfc(-z) = 1 + erf(z), which keeps its accuracy in the negative tail
// where 1 + erf cancels.
inline float activate(float v, int act) {
	if (act == ACT_RELU) {
		return isnan(v) ? v : fmax(v, 0.0f);
	}
	if (act == ACT_GELU) {
		return 0.5f * v * erfc(-v * M_SQRT1_2_F);
	}
	if (act == ACT_SILU) {
		return v / (1.0f + exp(-v));
	}
	return v;
}

// Mask kinds as the host passes them: none, boolean (nonzero = masked, as
// nn.MultiheadAttention) and additive.
#define MASK_NONE 0
#define MASK_BOOL 1
#define MASK_ADDITIVE 2

// mask_score is score x of key j for query i of batch b after every mask:
// -INFINITY where the causal mask (j > i + causalOffset), key padding
// (pad[b*sk + j] != 0) or a boolean mask hides the key, replacing x so that a
// NaN or huge score there cannot leak; x + the additive mask otherwise, added
// as PyTorch and cpuref add it (a NaN or +Inf score plus -inf is NaN, which
// poisons the row). mask holds entry (i, j) at maskBase + i*sk + j.
// The caller keeps i and j inside the score matrix.
inline float mask_score(float x, int i, int j, int b, int sk, int causal, int causalOffset,
                        __global const float *pad, int hasPad, __global const float *mask,
                        int maskKind, int maskBase) {
	if ((causal && j > i + causalOffset) || (hasPad && pad[b * sk + j] != 0.0f)) {
		return -INFINITY;
	}
	if (maskKind == MASK_NONE) {
		return x;
	}
	const float mv = mask[maskBase + i * sk + j];
	if (maskKind == MASK_BOOL) {
		return mv != 0.0f ? -INFINITY : x;
	}
	return x + mv;
}

// nan_max is max that propagates NaN, so a NaN score poisons its row as in the
// float64 reference instead of being dropped by fmax.
inline float nan_max(float a, float b) { return (a > b || isnan(a)) ? a : b; }

// HAVE_PREFETCH: the compiler has clang's __builtin_prefetch (tested in two
// steps, for preprocessors without __has_builtin). The CPU kernels prefetch
// the lines they will stream a few KiB ahead: one core's own loads keep too
// few lines in flight to reach the memory bandwidth, and PoCL's prefetch()
// does nothing.
#ifdef __has_builtin
#if __has_builtin(__builtin_prefetch)
#define HAVE_PREFETCH
#endif
#endif

// hsum16 adds the lanes of x pairwise, in a fixed order.
inline float hsum16(float16 x) {
	float8 a = x.lo + x.hi;
	float4 b = a.lo + a.hi;
	float2 c = b.lo + b.hi;
	return c.x + c.y;
}

// K/V element types. A kernel built with -DK_HALF (-DV_HALF) reads its keys
// (values) as IEEE half, 2 bytes each, with vload_half, which is core OpenCL 1.2
// and needs no cl_khr_fp16; arithmetic stays float32. Without it, float32 as
// before. Kernels with one K-or-V operand (attn_bmm, write_kv) use KV_HALF.
//   k_t, v_t, kv_t             the element type of the pointer
//   load_k(p, i), ...          element i of p as a float
//   load_k4(p, i), ...         elements i ... i+3 of p as a float4 (any alignment)
//   load_k16(p, i), ...        elements i ... i+15 of p as a float16 (any alignment)
#define load_f32(p, i) ((p)[i])
#define load_f32x4(p, i) vload4(0, (p) + (i))
#define load_f32x16(p, i) vload16(0, (p) + (i))
#define load_f16(p, i) vload_half((i), (p))
#define load_f16x4(p, i) vload_half4(0, (p) + (i))
#define load_f16x16(p, i) vload_half16(0, (p) + (i))
#ifdef K_HALF
#define k_t half
#define load_k load_f16
#define load_k4 load_f16x4
#define load_k16 load_f16x16
#else
#define k_t float
#define load_k load_f32
#define load_k4 load_f32x4
#define load_k16 load_f32x16
#endif
#ifdef V_HALF
#define v_t half
#define load_v load_f16
#define load_v4 load_f16x4
#define load_v16 load_f16x16
#else
#define v_t float
#define load_v load_f32
#define load_v4 load_f32x4
#define load_v16 load_f32x16
#endif
#ifdef KV_HALF
#define kv_t half
#define load_kv load_f16
#define load_kv4 load_f16x4
#define load_kv16 load_f16x16
#else
#define kv_t float
#define load_kv load_f32
#define load_kv4 load_f32x4
#define load_kv16 load_f32x16
#endif

// DEFINE_ROW_LOAD(name, T, W, LOAD, LOADW) defines floatW name(p, d, n):
// elements d ... d+W-1 of a row of n elements of type T at p (LOADW reads W,
// LOAD one), zeros past n, for head dims that are not a multiple of W.
#define DEFINE_ROW_LOAD(name, T, W, LOAD, LOADW)                   \
    inline float##W name(__global const T *p, int d, int n) {      \
        if (d + W <= n) {                                          \
            return LOADW(p, d);                                    \
        }                                                          \
        float lane[W];                                             \
        for (int e = 0; e < W; ++e) {                              \
            lane[e] = d + e < n ? LOAD(p, d + e) : 0.0f;           \
        }                                                          \
        return vload##W(0, lane);                                  \
    }

// DECODE_SLOT declares what work-group gid of a decode split (decode.cl,
// decode_cpu.cl) takes: its key slice split, row block rb, batch b and K/V head
// kvh, rows (batch*heads*sq, the rows of the partials) and nr (the block's
// rows, at most rb0), for groups work-groups launched as group =
// ((b*hkv + kvh)*rowBlocks + rowBlock)*splits + split. (A macro: a struct
// returned by value made AMD's compiler spill the split kernel.)
#define DECODE_SLOT(gid, groups, splits, rowBlocks, heads, group, sq, rb0) \
    const int split = (gid) % (splits);                                   \
    const int rb = (gid) / (splits) % (rowBlocks);                        \
    const int b = (gid) / (splits) / (rowBlocks) / ((heads) / (group));   \
    const int kvh = (gid) / (splits) / (rowBlocks) - b * ((heads) / (group)); \
    const int rows = (groups) / ((splits) * (rowBlocks)) * (group) * (sq); \
    const int nr = min((rb0), (group) * (sq) - rb * (rb0))

// The decode partials share one buffer, part: the outputs [splits][rows][dv],
// then the row maxima and the row sums, [splits][rows] each.
#define DECODE_PART_MAX(part, splits, rows, dv) ((part) + (splits) * (rows) * (dv))
#define DECODE_PART_SUM(part, splits, rows, dv) (DECODE_PART_MAX(part, splits, rows, dv) + (splits) * (rows))

// decode_row maps row rr of a KV head kvh's rows in decode.cl and decode_cpu.cl
// (its group's query heads times Sq) to its query head h and position i, and
// returns its index (b*heads + h)*sq + i among the query rows.
inline int decode_row(int rr, int b, int kvh, int heads, int group, int sq, int *h, int *i) {
    const int hh = rr / sq;
    *i = rr - hh * sq;
    *h = kvh * group + hh;
    return (b * heads + *h) * sq + *i;
}

// Angles of the sinusoidal and rotary position encodings. A float32 angle
// pos*w loses ~1e-7 * pos, too much at long sequences (pos 131071: 0.008 rad),
// so the angle is carried in two floats: the host passes w as a hi+lo pair
// computed in float64, the product is split exactly with fma, and the angle is
// reduced modulo 2*pi (itself a hi+lo pair) before sin/cos see it.
#define TWO_PI_HI 6.28318548202514648438f     // float(2*pi)
#define TWO_PI_LO (-1.74845553146951715e-07f) // 2*pi - TWO_PI_HI

// reduced_angle is pos * (whi + wlo) modulo 2*pi, in [-pi, pi] up to rounding,
// for an integer pos (exact in float32).
inline float reduced_angle(float pos, float whi, float wlo) {
	const float hi = pos * whi;
	const float lo = fma(pos, whi, -hi) + pos * wlo;
	const float k = rint(hi / TWO_PI_HI);
	const float r = fma(-k, TWO_PI_HI, hi);
	return fma(-k, TWO_PI_LO, r) + lo;
}
