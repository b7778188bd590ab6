//go:build !purego && !noasm

package half

import "golang.org/x/sys/cpu"

// useF16C selects decodeF16C (decode_amd64.s).
var useF16C = cpu.X86.HasAVX && cpu.X86.HasF16C

//go:noescape
func decodeF16C(dst *float32, src *uint16, n int)

// decodeFast converts the longest prefix of src that is a multiple of 8 with
// F16C and returns its length (0 without F16C).
func decodeFast(dst []float32, src []uint16) int {
	n := len(src) &^ 7
	if !useF16C || n == 0 {
		return 0
	}
	_ = dst[n-1]
	decodeF16C(&dst[0], &src[0], n)
	return n
}
