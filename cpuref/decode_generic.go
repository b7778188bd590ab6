//go:build !amd64 || purego

package cpuref

import "github.com/clattn/clattn/backend"

// fourRowKernels: the portable kernels below always run.
const fourRowKernels = true

// kernelsPrefetch is false: the portable kernels cannot prefetch.
func kernelsPrefetch(dimV int) bool { return false }

// The four-row decode kernels in Go, with the contracts of decode_amd64.s:
// s[r*lds+j] = scale * q[r*dim:][:dim] . k[j*ldk:][:dim] for r < 4, j < n, and
// o[r*ldo+d] += sum_j p[r*ldp+j] * v[j*ldv+d] for r < 4, d < dim.

func scores4F16(q []float32, dim int, k []uint16, ldk, n int, s []float32, lds int, scale float32, _ *uint16) {
	for r := range 4 {
		for j := range n {
			var sum float32
			for d, x := range q[r*dim : (r+1)*dim] {
				sum += x * backend.Float16Value(k[j*ldk+d])
			}
			s[r*lds+j] = scale * sum
		}
	}
}

func scores4F32(q []float32, dim int, k []float32, ldk, n int, s []float32, lds int, scale float32) {
	for r := range 4 {
		for j := range n {
			var sum float32
			for d, x := range q[r*dim : (r+1)*dim] {
				sum += x * k[j*ldk+d]
			}
			s[r*lds+j] = scale * sum
		}
	}
}

func values4F16(p []float32, ldp, n int, v []uint16, ldv, dim int, o []float32, ldo int, _ *uint16) {
	for r := range 4 {
		for j := range n {
			w := p[r*ldp+j]
			for d := range dim {
				o[r*ldo+d] += w * backend.Float16Value(v[j*ldv+d])
			}
		}
	}
}

func values4F32(p []float32, ldp, n int, v []float32, ldv, dim int, o []float32, ldo int) {
	for r := range 4 {
		for j := range n {
			w := p[r*ldp+j]
			for d := range dim {
				o[r*ldo+d] += w * v[j*ldv+d]
			}
		}
	}
}

// prefetchRows does nothing: portable Go has no prefetch instruction.
func prefetchRows(p *byte, stride int, rows int, lines int) {}
