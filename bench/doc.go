// Package bench measures clattn's operations on any backend.Backend: which
// cases to run, how to time them, how much work each does, and how to report it.
//
// A Case is an Op (gemm, qkt, softmax, attention-unfused, attention, ffn,
// layernorm, mha, encoder) with a Shape (batch, sequence lengths, d_model,
// heads, head dimension, d_ff, causal); Suite names ready-made sets: quick
// (seconds on a CPU), standard (the shapes of the GPU targets) and long
// (attention at long sequences). Run uploads random inputs, runs the case
// Options.Warmup times untimed (building kernels, warming caches), then
// Options.Reps times, and reports the median, minimum and maximum wall time -
// waiting for asynchronous backends through Finisher, and adding device time
// from OpenCL profiling events where the backend is a KernelTimer.
//
// Each Result carries the work of its case from analytic models (Case.FLOPs,
// Case.Bytes): the useful FLOPs, 2 per multiply-add, with a causal mask counting
// only the kept part of the score matrix (as FlashAttention's benchmarks do),
// and the minimum global-memory traffic (every input read once, every output
// written once), so GFLOP/s and GB/s compare devices fairly; PeakPct relates
// GFLOP/s to the device's estimated fp32 peak. A Report gathers the results of one device;
// WriteTable, WriteJSON and WriteCSV print it and Plot draws GFLOP/s against
// sequence length for one or several devices. The gpubench command's bench
// subcommand drives all of this.
package bench
