//go:build !amd64 || purego

package cpuref

// sumWords is the streaming read of ReadBandwidth: the sum of x.
func sumWords(x []uint64) uint64 { return sumWordsGeneric(x) }
