//go:build !amd64 || purego

package cpuref

// geluKernel is one of geluBias's code paths; use selects it and returns the
// function that restores the previous choice.
type geluKernel struct {
	name string
	use  func() (restore func())
}

// geluKernels are the paths of geluBias: the generic one only.
func geluKernels() []geluKernel {
	return []geluKernel{{"generic", func() func() { return func() {} }}}
}
