//go:build !purego

#include "textflag.h"

// func nonFiniteAVX2(x *float32, rows, cols, stride int) bool
// Reports whether an element of the rows x cols view at x (rows stride
// elements apart, cols a multiple of 8, rows >= 1) is NaN or ±Inf: its
// exponent bits all set.
TEXT ·nonFiniteAVX2(SB), NOSPLIT, $0-33
	MOVQ x+0(FP), SI
	MOVQ rows+8(FP), DX
	MOVQ cols+16(FP), BX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8 // bytes
	SHRQ $3, BX // vectors per row
	MOVL $0x7f800000, AX
	MOVD AX, X15
	VPBROADCASTD X15, Y15
	VPXOR Y14, Y14, Y14 // lanes whose exponent was all ones

rows:
	MOVQ SI, DI
	MOVQ BX, CX

cols:
	VPAND    (DI), Y15, Y0
	VPCMPEQD Y15, Y0, Y0
	VPOR     Y0, Y14, Y14
	ADDQ     $32, DI
	DECQ     CX
	JNZ      cols
	ADDQ     R8, SI
	DECQ     DX
	JNZ      rows

	VPTEST Y14, Y14
	SETNE  ret+32(FP)
	VZEROUPPER
	RET

// func zeroAVX2(x *float32, n int) bool
// Reports whether an element of x[:n] (n a positive multiple of 8) is zero
// (+0 or -0; NaN is not).
TEXT ·zeroAVX2(SB), NOSPLIT, $0-17
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $3, CX
	VXORPS Y15, Y15, Y15
	VXORPS Y14, Y14, Y14 // lanes that held a zero

zeros:
	VCMPPS $0, (SI), Y15, Y0 // equal, ordered
	VORPS  Y0, Y14, Y14
	ADDQ   $32, SI
	DECQ   CX
	JNZ    zeros

	VPTEST Y14, Y14
	SETNE  ret+16(FP)
	VZEROUPPER
	RET
