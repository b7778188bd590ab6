//go:build !purego && !noasm

#include "textflag.h"

// func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int, blocks int)
// For b in [0, blocks): dst[(8b+c)*ldd + r] = src[r*lds + 8b + c] for r, c in [0, 8).
//
// Rows r and r+4 of a block go to the two 128-bit lanes of one register, so that the 4×4 transposes
// done within each lane by VUNPCK*PS and VSHUFPS give the eight output rows directly.
TEXT ·transpose8x8AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ blocks+32(FP), CX
	TESTQ CX, CX
	JEQ done
	LEAQ (R9)(R9*2), R10 // 3*lds
	LEAQ (R8)(R8*2), R11 // 3*ldd
	LEAQ (SI)(R9*4), R12 // row 4 of the source block
	LEAQ (DI)(R8*4), R13 // row 4 of the destination block

loop:
	VMOVUPS (SI), X0
	VMOVUPS (SI)(R9*1), X1
	VMOVUPS (SI)(R9*2), X2
	VMOVUPS (SI)(R10*1), X3
	VMOVUPS 16(SI), X4
	VMOVUPS 16(SI)(R9*1), X5
	VMOVUPS 16(SI)(R9*2), X6
	VMOVUPS 16(SI)(R10*1), X7
	VINSERTF128 $1, (R12), Y0, Y0
	VINSERTF128 $1, (R12)(R9*1), Y1, Y1
	VINSERTF128 $1, (R12)(R9*2), Y2, Y2
	VINSERTF128 $1, (R12)(R10*1), Y3, Y3
	VINSERTF128 $1, 16(R12), Y4, Y4
	VINSERTF128 $1, 16(R12)(R9*1), Y5, Y5
	VINSERTF128 $1, 16(R12)(R9*2), Y6, Y6
	VINSERTF128 $1, 16(R12)(R10*1), Y7, Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(R8*1)
	VMOVUPS Y2, (DI)(R8*2)
	VMOVUPS Y3, (DI)(R11*1)
	VMOVUPS Y4, (R13)
	VMOVUPS Y5, (R13)(R8*1)
	VMOVUPS Y6, (R13)(R8*2)
	VMOVUPS Y7, (R13)(R11*1)

	ADDQ $32, SI
	ADDQ $32, R12
	LEAQ (DI)(R8*8), DI
	LEAQ (R13)(R8*8), R13
	DECQ CX
	JNE loop
	VZEROUPPER

done:
	RET
