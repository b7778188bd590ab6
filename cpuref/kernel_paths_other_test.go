//go:build !amd64 || purego

package cpuref

// kernelPath is one of a function's code paths; use selects it and returns
// the function that restores the previous choice.
type kernelPath struct {
	name string
	use  func() (restore func())
}

// genericOnly is the one path where there is no assembly.
func genericOnly() []kernelPath {
	return []kernelPath{{"generic", func() func() { return func() {} }}}
}

// geluKernels are the paths of geluBias: the generic one only.
func geluKernels() []kernelPath { return genericOnly() }

// layerNormKernels are the paths of LayerNorm's row kernels: the generic one only.
func layerNormKernels() []kernelPath { return genericOnly() }
