// Package gpu runs clattn's Transformer operations on OpenCL devices: GPUs,
// and CPUs through PoCL. (The name is history: the package is the OpenCL host
// code, for every kind of OpenCL device, and knows no other backend.)
//
// Devices lists every OpenCL device of every platform; Open opens the one a
// Selector picks, with its tuning cache; OpenDevice opens a listed device.
// Package clattn turns device specs ("auto", "opencl:gpu", ...) into selectors
// and falls back to the pure-Go backend.
//
// A Device implements backend.Backend: tensors live in device memory, programs
// are built from package kernels on first use and cached per (file, options),
// and every failure names the device, operation and kernel.
//
// Float16 and bfloat16 tensors are 16-bit buffers that kernels read with
// vload_half (core OpenCL 1.2: no cl_khr_fp16, which NVIDIA lacks, is needed)
// or a shift, computing in float32; a build option per operand dtype selects
// the read, so float32 kernels are unchanged. Attention reads grouped-query K/V
// heads in place, and a few query rows against many keys (decoding) take
// flash-decoding kernels that split the keys over work-groups (useDecode is the
// one rule). ReadBandwidth measures the memory bandwidth decode is judged by.
//
// The OpenCL library is loaded at first use, not at start-up, so binaries run
// on machines without OpenCL. It is libOpenCL.so.1 or libOpenCL.so (the OpenCL
// framework on macOS), or only $CLATTN_OPENCL_LIB where that is set; pointing
// it at a missing file makes clattn's auto choose the pure-Go backend.
package gpu
