// Package model builds Transformer modules on a backend.Backend with PyTorch's
// semantics and weight names: MultiHeadAttention (packed in_proj_weight,
// self- and cross-attention, causal/boolean/additive/key-padding masks, optional
// per-head attention weights), the position-wise FeedForward network, LayerNorm,
// EncoderLayer and DecoderLayer (post-norm and pre-norm), the Encoder stack and
// the sinusoidal PositionalEncoding.
//
// Weights load from safetensors files holding a PyTorch state_dict (optionally
// under a prefix such as "layers.3."); a weight set that does not fit is an
// ErrWeights error listing every missing, unexpected and mis-shaped tensor.
//
// Activations stay on the device. One encoder layer is: x -> one GEMM against the
// packed in_proj_weight (transposed, bias fused) into [B, S, 3E] -> attention on
// head views of that tensor (backend.PackedHeads, no copies) writing the
// concatenated heads [B, S, E] -> out_proj GEMM with the residual add fused ->
// LayerNorm -> FeedForward with the residual fused -> LayerNorm. Cross-attention
// projects Q and K,V with two GEMMs on row views of the same in_proj_weight.
// Modules keep their weights and intermediate tensors on the device until Close;
// Forward results belong to the caller.
//
// # Concurrency
//
// A module may be used from many goroutines: it reuses its intermediate tensors
// from call to call, so a mutex per module serialises its Forward calls (and
// Close). Goroutines that want to run one model in parallel load one module
// each; modules on one backend.Backend run concurrently, as the Backend allows.
package model
