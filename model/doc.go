// Package model builds Transformer modules on a backend.Backend with PyTorch's
// semantics and weight names: MultiHeadAttention (nn.MultiheadAttention: packed
// in_proj_weight or separate q/k/v_proj_weight for other key and value sizes,
// self- and cross-attention with distinct keys and values, add_bias_kv,
// add_zero_attn, bias=False, causal/boolean/additive/key-padding masks, per-head
// or averaged attention weights), the position-wise FeedForward network,
// LayerNorm, EncoderLayer and DecoderLayer (post-norm and pre-norm, bias=False),
// the Encoder and Decoder stacks, the whole Transformer (nn.Transformer) and the
// sinusoidal PositionalEncoding.
//
// # Layout and masks
//
// Every module takes [batch, seq, features] tensors (PyTorch's
// batch_first=True) unless its configuration says Layout: SeqFirst ([seq,
// batch, features], PyTorch's default); a weights file cannot tell which, and
// neither layout costs a copy. Boolean masks hold 1 where a key is masked
// (nn.MultiheadAttention's convention); UploadMaskAs and UploadBoolMask read
// F.scaled_dot_product_attention's opposite convention (true = attend). A query
// whose every key is masked gets zeros (as PyTorch >= 2.5; older PyTorch gives
// NaN). MHAOptions lists the mask forms and where they differ from PyTorch.
//
// Bert is a BERT-family encoder (BERT, RoBERTa, XLM-R and the sentence-transformers
// models built on them) loaded from a Hugging Face folder (LoadBertDir: config.json
// and model.safetensors); it runs the same Encoder, with query, key and value
// packed into in_proj. SentenceEncoder adds the pooling and normalisation of a
// sentence-transformers folder and turns rows of token ids into embeddings.
//
// CausalLM is a decoder-only language model of the Llama family
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) loaded from a Hugging
// Face checkpoint folder (LoadCheckpoint: config.json and model.safetensors or
// its shards), its weights kept in the checkpoint's bfloat16 or float16 where
// the backend stores them. Forward runs a prompt (left-padded batches, positions
// cumsum(mask) - 1) into a KVCache of float32 or float16 keys and values, Step
// appends tokens one (or a few) at a time, Greedy decodes, stopping each
// sequence at the checkpoint's eos_token_id (config.json or
// generation_config.json) as Hugging Face's generate does. WriteRandomCheckpoint
// writes a folder of any shapes with random weights.
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
