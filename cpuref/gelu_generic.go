//go:build !amd64 || purego

package cpuref

// geluBias sets x[j] = gelu(x[j] + bias[j]) (bias nil: gelu(x[j])).
func geluBias(x, bias []float32) { geluBiasGeneric(x, bias) }
