// Package cpuref is the pure-Go clattn backend: the fallback that runs where no
// OpenCL device is, and the reference every OpenCL result is checked against.
//
// It is correct first and fast second. Every matrix product goes through a blocked
// SGEMM (package cpuref/internal/sgemm); attention runs the same tiled online
// softmax as a flash kernel (one Q block against K and V tiles, a running row
// maximum and sum), so it needs O(Sq) extra memory and runs at GEMM speed; the
// feed-forward network and large projections work in blocks of rows, one core
// each, against weights packed once per call; hidden activations stay in cache.
// Work is spread over all cores (GOMAXPROCS goroutines: the caller's and
// GOMAXPROCS-1 helpers, started by the first parallel operation and kept for
// the process's life, which spin for 200 microseconds after each operation
// before they park, so that a decoder's back-to-back operations do not each
// wait for a thread to wake; a goroutine-leak check should ignore
// internal/parallel.(*helperPool).help).
//
// Float16 and bfloat16 tensors are stored as 16-bit patterns (Tensor.Bits) and
// converted to float32 where they are read: Gemm's b panel by panel as SGEMM
// packs it, K and V tile by tile (F16C where the CPU has it). Grouped-query
// heads index their group's K/V head. Attention with at most 16 query rows
// (decodeShape, decode.go) is flash-decoding: the keys of each (batch, K/V
// head) are split into slices over the cores, each slice computes a partial
// maximum, sum and output for all query rows of the group with four-row
// AVX2/AVX-512 kernels that read float16 K/V as stored (each byte once, the
// next tile prefetched), and a second pass combines the slices.
//
// Numerics follow the project's rules: float32 arithmetic, softmax
// subtracts the row maximum, a row whose every key is masked gives zeros, a
// boolean mask replaces the score, and values whose weight is exactly zero are
// skipped so NaN in masked values never leaks. LayerNorm statistics and the
// positional encoding are computed in float64 and rounded once.
//
// Tensors belong to the Backend that made them: a tensor of another Backend,
// another cpuref.Backend included, gives backend.ErrForeignTensor, so that code
// tested on one instance behaves the same on a device. Tensor.Data exposes the
// host slice of a float32 tensor without a copy, Tensor.Bits that of a half
// tensor (for tests: Download is the portable way).
package cpuref
