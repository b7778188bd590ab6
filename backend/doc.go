// Package backend defines what every clattn device can do: the Backend interface,
// its Tensor handles, the strided views (Mat, Heads) that let heads of a packed
// projection be addressed without copies, the options of each operation (masks,
// activations, epilogues) and the shape checks all backends share. Package
// clattn (the module root) opens a backend from a device spec.
//
// Implementations: package cpuref (pure Go, also the reference) and package gpu
// (OpenCL). Package backendtest holds the conformance suite both pass.
//
// # Dtypes, grouped-query attention and KV caches
//
// A tensor stores Float32, Float16 or BFloat16 (DType); arithmetic is float32
// whatever the storage. UploadAs rounds float32 values to nearest, ties to even
// (Float16Bits, BFloat16Bits); UploadBits takes the 16-bit patterns as they
// are; Download converts any dtype exactly. K and V of Scores, AttendValues and
// Attention may be Float16, and Gemm's b (the weights) Float16 or BFloat16;
// every other operand is Float32 (anything else is ErrArgument naming the
// operand, its shape and dtype).
//
// K and V may have fewer heads than the queries (grouped-query attention;
// one K/V head is multi-query): with Hkv dividing H, K/V head j serves query
// heads j*H/Hkv ... (j+1)*H/Hkv-1, PyTorch's repeat_interleave order, without
// copies. Masks broadcast as PyTorch's do: [Sq Sk], [1 1 Sq Sk], [B 1 Sq Sk],
// [1 H Sq Sk] or [B H Sq Sk].
//
// A decoder keeps K and V in caches [B Hkv Cap D] made once (AllocAs), writes
// each step's rows with WriteKV and attends over the filled part through
// KVHeads, with CausalBottomRight aligning the new rows after the cached ones.
// Attention with at most 16 query rows is a decode step: backends split the
// keys over many workers and read each K/V byte once for all query heads of a
// group.
//
// # NaN and Inf
//
// NaN and Inf in inputs propagate through unmasked positions as IEEE arithmetic
// would: a NaN in a GEMM operand makes its output row or column NaN, a NaN or
// +Inf score makes its softmax row NaN (as does a row whose every visible score
// is NaN), a NaN or Inf value reaches the outputs of the queries that see it,
// and a NaN or Inf in a LayerNorm row makes the whole row NaN. Masked positions
// never leak: a boolean, causal or key-padding mask replaces the score (an
// additive mask is added, so a NaN or +Inf score under an additive -Inf is NaN,
// as in PyTorch), values whose weight is exactly zero are skipped, and Gemm
// with Beta 0 does not read dst. A row whose every key is masked gives zeros.
// Softmax weights below float32's normal range are subnormal, not 0, as on
// float32 hardware. NaN and Inf land at the same places, with the same signs, on
// every backend (tested against the pure-Go backend on OpenCL devices), with one
// exception: a NaN or Inf value whose key scores more than about 96 below its
// row's maximum has a weight that underflows to 0 in some orders of computation
// and not in others (flash attention meets the keys before it knows the
// maximum), so whether it reaches the output may differ between backends.
//
// # Aliasing
//
// An output may be the same tensor as an input only where every element is
// read before the element at its place is written, on every backend: Softmax
// in place (dst = scores), LayerNorm with dst = x or dst = the residual,
// FeedForward and GatedFeedForward with dst = x or dst = the residual,
// RMSNorm with dst and ResidualOut = x or the residual (not each other),
// Rotary with dst the very view x, PositionalEncoding with dst = x, and Gemm
// with the residual the very view dst. Elsewhere (Gemm's dst
// sharing A's, B's or the bias's tensor, Attention's out sharing q's, k's, v's
// or a mask's, Scores, AttendValues, the weights of LayerNorm, RMSNorm,
// FeedForward and GatedFeedForward, Rotary's positions,
// WriteKV's src sharing the cache's tensor)
// a device's work-items would read what others already wrote, so every backend
// refuses the call with ErrArgument, even where the views do not overlap.
// A nil tensor where one is required is ErrArgument too.
package backend
