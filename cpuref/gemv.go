package cpuref

import (
	"math"

	"github.com/clattn/clattn/cpuref/internal/half"
)

// gemvMaxRows is the most rows the weight-streaming products take (Gemm with a
// transposed B and GatedFeedForward): below it, sgemm's packing (which converts
// and copies all of B for a few rows) costs more than the product. Decoding
// runs one row per sequence.
const gemvMaxRows = 4

// gemvBlock is how many weight elements a row's product converts at a time
// (float16 through half.Decode's F16C path into a stack buffer).
const gemvBlock = 512

// gemvTransB computes c[r*ldc+j] = alpha * sum_k a[r*lda+k] * w[j*ldw+k] +
// beta*c[r*ldc+j] for r < m <= gemvMaxRows and j < n (w is [n, k] with row
// stride ldw): each weight row is read once, for all m rows of a, and the rows
// j are split over the cores. Sums run in float32: in the AVX-512 kernels of
// dotRows where the CPU has them (32 partial sums, the same order for every
// weight type), the rest with four interleaved partial sums.
func (w weight) gemvTransB(m, n, k int, alpha float32, a []float32, lda, ldw int, beta float32, c []float32, ldc int) {
	rowBlocks(n, blockSize(n, 16, 256), func(lo, hi int) {
		var buf [gemvBlock]float32
		var sums [gemvMaxRows]float32
		for j := lo; j < hi; j++ {
			clear(sums[:])
			k0 := w.dotRows(&sums, a, lda, m, j*ldw, k) // elements of the row done
			for ; k0 < k; k0 += gemvBlock {
				kn := min(gemvBlock, k-k0)
				ws := w.row(j*ldw+k0, kn, buf[:kn])
				for r := range m {
					sums[r] += dot4(a[r*lda+k0:][:kn], ws)
				}
			}
			for r := range m {
				at := r*ldc + j
				v := alpha * sums[r]
				if beta != 0 {
					v += beta * c[at]
				}
				c[at] = v
			}
		}
	})
}

// row returns elements [at, at+n) of the weight as float32: a slice of a
// float32 weight, or the halves converted into buf.
func (w weight) row(at, n int, buf []float32) []float32 {
	switch {
	case w.half.Bits == nil:
		return w.f32[at : at+n]
	case w.half.BFloat16:
		for i, b := range w.half.Bits[at : at+n] {
			buf[i] = math.Float32frombits(uint32(b) << 16)
		}
	default:
		half.Decode(buf, w.half.Bits[at:at+n])
	}
	return buf
}

// dot4 is x . y (len(y) >= len(x)) with four interleaved partial sums.
func dot4(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}
