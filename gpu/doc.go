// Package gpu runs clattn's Transformer operations on OpenCL devices.
//
// Devices lists every OpenCL device of every platform; Open selects one by a
// device spec ("auto", "cpu", "opencl:gpu", ...) and falls back to the pure-Go
// cpuref backend where auto finds no GPU; OpenDevice opens a listed device.
// A Device implements backend.Backend: tensors live in device memory, programs
// are built from package kernels on first use and cached per (file, options),
// and every failure names the device, operation and kernel.
//
// The OpenCL library is loaded at first use, not at start-up, so binaries run
// on machines without OpenCL. It is libOpenCL.so.1 or libOpenCL.so (the OpenCL
// framework on macOS), or only $CLATTN_OPENCL_LIB where that is set; pointing
// it at a missing file makes auto choose the CPU backend.
package gpu
