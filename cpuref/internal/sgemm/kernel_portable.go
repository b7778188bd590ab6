//go:build !amd64 || purego || noasm

package sgemm

// supportedKernels returns the micro-kernels this CPU can run, fastest first.
func supportedKernels() []*microKernel { return []*microKernel{portableKernel} }
