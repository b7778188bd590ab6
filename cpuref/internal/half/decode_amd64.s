//go:build !purego && !noasm

#include "textflag.h"

// func decodeF16C(dst *float32, src *uint16, n int)
// dst[i] = float32(src[i]) for i < n, n a multiple of 8: 32 halves a step, then 8.
TEXT ·decodeF16C(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $5, CX
	JZ   eights

loop32:
	VCVTPH2PS (SI), Y0
	VCVTPH2PS 16(SI), Y1
	VCVTPH2PS 32(SI), Y2
	VCVTPH2PS 48(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop32

eights:
	ANDQ $31, DX
	SHRQ $3, DX
	JZ   done

loop8:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  loop8

done:
	VZEROUPPER
	RET
