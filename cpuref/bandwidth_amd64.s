//go:build !purego

#include "textflag.h"

// func sumWordsAVX2(p *uint64, n int) uint64
// The sum of the n words at p (n a multiple of 16): four chains of 32-byte
// adds, so that the loads, not the adds, bound the loop.
TEXT ·sumWordsAVX2(SB), NOSPLIT, $0-24
	MOVQ   p+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $4, CX
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3
	TESTQ  CX, CX
	JZ     fold2

loop2:
	VPADDQ (SI), Y0, Y0
	VPADDQ 32(SI), Y1, Y1
	VPADDQ 64(SI), Y2, Y2
	VPADDQ 96(SI), Y3, Y3
	ADDQ   $128, SI
	DECQ   CX
	JNZ    loop2

fold2:
	VPADDQ       Y1, Y0, Y0
	VPADDQ       Y3, Y2, Y2
	VPADDQ       Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDQ       X1, X0, X0
	MOVQ         X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumWordsAVX512(p *uint64, n int) uint64
// As sumWordsAVX2 with 64-byte adds (n a multiple of 32): one load per cache
// line, which on some cores is what a single thread needs to reach the
// memory's bandwidth.
TEXT ·sumWordsAVX512(SB), NOSPLIT, $0-24
	MOVQ          p+0(FP), SI
	MOVQ          n+8(FP), CX
	SHRQ          $5, CX
	VPXORQ        Z0, Z0, Z0
	VPXORQ        Z1, Z1, Z1
	VPXORQ        Z2, Z2, Z2
	VPXORQ        Z3, Z3, Z3
	TESTQ         CX, CX
	JZ            fold5

loop5:
	VPADDQ        (SI), Z0, Z0
	VPADDQ        64(SI), Z1, Z1
	VPADDQ        128(SI), Z2, Z2
	VPADDQ        192(SI), Z3, Z3
	ADDQ          $256, SI
	DECQ          CX
	JNZ           loop5

fold5:
	VPADDQ        Z1, Z0, Z0
	VPADDQ        Z3, Z2, Z2
	VPADDQ        Z2, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDQ        Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPADDQ        X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VPADDQ        X1, X0, X0
	MOVQ          X0, ret+16(FP)
	VZEROUPPER
	RET
