// Package backend defines what every clattn device can do: the Backend interface,
// its Tensor handles, the strided views (Mat, Heads) that let heads of a packed
// projection be addressed without copies, the options of each operation (masks,
// activations, epilogues) and the shape checks all backends share. Package
// clattn (the module root) opens a backend from a device spec.
//
// Implementations: package cpuref (pure Go, also the reference) and package gpu
// (OpenCL). Package backendtest holds the conformance suite both pass.
//
// # NaN and Inf
//
// NaN and Inf in inputs propagate through unmasked positions as IEEE arithmetic
// would: a NaN in a GEMM operand makes its output row or column NaN, a NaN or
// +Inf score makes its softmax row NaN (as does a row whose every visible score
// is NaN), a NaN or Inf value reaches the outputs of the queries that see it,
// and a NaN or Inf in a LayerNorm row makes the whole row NaN. Masked positions
// never leak: a boolean, causal or key-padding mask replaces the score, values
// whose weight is exactly zero are skipped, and Gemm with Beta 0 does not read
// dst. A row whose every key is masked gives zeros. NaN and Inf land at the same
// places, with the same signs, on every backend (tested against the pure-Go
// backend on OpenCL devices).
package backend
