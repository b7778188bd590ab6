// Package clattn is the front door of clattn, Transformer attention for Go on
// OpenCL devices with a pure-Go fallback: Open turns a device spec into a
// backend.Backend.
//
//	be, err := clattn.Open("") // $CLATTN_DEVICE, else the best OpenCL GPU, else pure Go
//
// The work happens behind it: package backend is the interface every device
// implements (with the views, options and shape checks they share), package
// gpu runs it through OpenCL (GPUs, and CPUs through PoCL), package cpuref in
// pure Go, and package model stacks the operations into encoder and decoder
// layers.
package clattn
