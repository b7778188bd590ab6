//go:build !purego

package cpuref

import "golang.org/x/sys/cpu"

// fourRowKernels says whether the four-row decode kernels (decode_amd64.s) can
// run; useAVX512 picks their AVX-512 versions (values: for head dims that are
// multiples of 32), and with hasAVX512DQ the eight-key float16 score kernel
// (octoScores).
var (
	fourRowKernels = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
	useAVX512      = fourRowKernels && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	hasAVX512DQ    = cpu.X86.HasAVX512DQ
)

// octoMaxDim is the largest head dim whose float16 scores take
// scoresF16x8AVX512: its last keys, fewer than eight, are copied into a
// zero-padded step of this many halves a key on the stack.
const octoMaxDim = 256

// octoScores says whether float16 keys of head dim dim are scored eight at a
// time (scoresF16x8AVX512), every key of a call then with the same sums.
func octoScores(dim int) bool {
	return useAVX512 && hasAVX512DQ && dim%32 == 0 && dim <= octoMaxDim
}

// kernelsPrefetch says whether the four-row kernels for values of head dim
// dimV prefetch as they stream (the AVX-512 ones), so that the caller need not.
func kernelsPrefetch(dimV int) bool { return useAVX512 && dimV%32 == 0 }

//go:noescape
func scoresF16x4(q *float32, dim int, k *uint16, ldk int, n int, s *float32, lds int, scale float32)

//go:noescape
func scoresF32x4(q *float32, dim int, k *float32, ldk int, n int, s *float32, lds int, scale float32)

//go:noescape
func valuesF16x4(p *float32, ldp int, n int, v *uint16, ldv int, dim int, o *float32, ldo int)

//go:noescape
func valuesF32x4(p *float32, ldp int, n int, v *float32, ldv int, dim int, o *float32, ldo int)

//go:noescape
func scoresF16x4AVX512(q *float32, dim int, k *uint16, ldk int, n int, s *float32, lds int, scale float32, ahead *uint16)

//go:noescape
func scoresF16x8AVX512(q *float32, dim int, k *uint16, ldk int, n int, s *float32, lds int, scale float32, ahead *uint16)

//go:noescape
func scoresF32x4AVX512(q *float32, dim int, k *float32, ldk int, n int, s *float32, lds int, scale float32)

//go:noescape
func valuesF16x4AVX512(p *float32, ldp int, n int, v *uint16, ldv int, dim int, o *float32, ldo int, ahead *uint16)

//go:noescape
func valuesF32x4AVX512(p *float32, ldp int, n int, v *float32, ldv int, dim int, o *float32, ldo int)

// prefetchRows asks for lines cache lines of each of rows rows, stride bytes
// apart, from p on (PREFETCHT0): the decode path fetches a tile of values, and
// the next tile of keys, while it computes the scores of this one.
//
//go:noescape
func prefetchRows(p *byte, stride int, rows int, lines int)

// The slices are resliced to exactly what the kernels touch first, so that a
// bad length panics here rather than reading out of bounds there. A nil ahead
// hands the float16 kernels their own rows to prefetch into L2 again (lines
// they bring in anyway), so that they need no branch for it.

func scores4F16(q []float32, dim int, k []uint16, ldk, n int, s []float32, lds int, scale float32, ahead *uint16) {
	_, _, _ = q[4*dim-1], k[(n-1)*ldk+dim-1], s[3*lds+n-1]
	if ahead == nil {
		ahead = &k[0]
	}
	switch {
	case octoScores(dim):
		full := n &^ 7
		if full > 0 {
			scoresF16x8AVX512(&q[0], dim, &k[0], ldk, full, &s[0], lds, scale, ahead)
		}
		if full < n {
			scoresOctoTail(q, dim, k[full*ldk:], ldk, n-full, s[full:], lds, scale)
		}
	case useAVX512:
		scoresF16x4AVX512(&q[0], dim, &k[0], ldk, n, &s[0], lds, scale, ahead)
	default:
		scoresF16x4(&q[0], dim, &k[0], ldk, n, &s[0], lds, scale)
	}
}

// scoresOctoTail scores the last n < 8 keys of a call of scores4F16 with
// scoresF16x8AVX512, on a copy padded with zero keys, so that they get the
// bits they would get in a full step.
func scoresOctoTail(q []float32, dim int, k []uint16, ldk, n int, s []float32, lds int, scale float32) {
	var keys [8 * octoMaxDim]uint16
	var out [4 * 8]float32
	for j := range n {
		copy(keys[j*dim:(j+1)*dim], k[j*ldk:j*ldk+dim])
	}
	scoresF16x8AVX512(&q[0], dim, &keys[0], dim, 8, &out[0], 8, scale, &keys[0])
	for r := range 4 {
		copy(s[r*lds:r*lds+n], out[r*8:r*8+n])
	}
}

func scores4F32(q []float32, dim int, k []float32, ldk, n int, s []float32, lds int, scale float32) {
	_, _, _ = q[4*dim-1], k[(n-1)*ldk+dim-1], s[3*lds+n-1]
	if useAVX512 {
		scoresF32x4AVX512(&q[0], dim, &k[0], ldk, n, &s[0], lds, scale)
		return
	}
	scoresF32x4(&q[0], dim, &k[0], ldk, n, &s[0], lds, scale)
}

func values4F16(p []float32, ldp, n int, v []uint16, ldv, dim int, o []float32, ldo int, ahead *uint16) {
	_, _, _ = p[3*ldp+n-1], v[(n-1)*ldv+dim-1], o[3*ldo+dim-1]
	if useAVX512 && dim%32 == 0 {
		if ahead == nil {
			ahead = &v[0]
		}
		valuesF16x4AVX512(&p[0], ldp, n, &v[0], ldv, dim, &o[0], ldo, ahead)
		return
	}
	valuesF16x4(&p[0], ldp, n, &v[0], ldv, dim, &o[0], ldo)
}

func values4F32(p []float32, ldp, n int, v []float32, ldv, dim int, o []float32, ldo int) {
	_, _, _ = p[3*ldp+n-1], v[(n-1)*ldv+dim-1], o[3*ldo+dim-1]
	if useAVX512 && dim%32 == 0 {
		valuesF32x4AVX512(&p[0], ldp, n, &v[0], ldv, dim, &o[0], ldo)
		return
	}
	valuesF32x4(&p[0], ldp, n, &v[0], ldv, dim, &o[0], ldo)
}
