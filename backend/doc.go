// Package backend defines what every clattn device can do: the Backend interface,
// its Tensor handles, the strided views (Mat, Heads) that let heads of a packed
// projection be addressed without copies, the options of each operation (masks,
// activations, epilogues), the shape checks all backends share, and the device
// spec ("auto", "cpu", "opencl:gpu", ...) users select a device with.
//
// Implementations: package cpuref (pure Go, also the reference) and package gpu
// (OpenCL). Package backendtest holds the conformance suite both pass.
package backend
