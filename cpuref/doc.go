// Package cpuref is the pure-Go clattn backend: the fallback that runs where no
// OpenCL device is, and the reference every OpenCL result is checked against.
//
// It is correct first and fast second. Every matrix product goes through a blocked
// SGEMM (package cpuref/internal/sgemm); attention runs the same tiled online
// softmax as a flash kernel (one Q block against K and V tiles, a running row
// maximum and sum), so it needs O(Sq) extra memory and runs at GEMM speed; the
// feed-forward network works in row blocks whose hidden activations stay in cache.
// Work is spread over all cores (GOMAXPROCS goroutines).
//
// Numerics follow the project's rules: fp32 storage and arithmetic, softmax
// subtracts the row maximum, a row whose every key is masked gives zeros, a
// boolean mask replaces the score, and values whose weight is exactly zero are
// skipped so NaN in masked values never leaks. LayerNorm statistics and the
// positional encoding are computed in float64 and rounded once.
//
// Tensors belong to the Backend that made them: a tensor of another Backend,
// another cpuref.Backend included, gives backend.ErrForeignTensor, so that code
// tested on one instance behaves the same on a device. Tensor.Data exposes the
// host slice without a copy (for tests: Download is the portable way).
// Every operation may be given views whose storage overlaps the output (an
// in-place residual, attention written over its queries): inputs are then
// read from copies.
package cpuref
