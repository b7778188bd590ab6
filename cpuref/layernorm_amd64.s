//go:build !purego

#include "textflag.h"

// func sumAVX2(y *float32, n int) float64
// The float64 sum of y[:n] (n a multiple of 8) in eight partial sums, two
// vectors of four lanes, added pairwise at the end.
TEXT ·sumAVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	SHRQ $3, CX
	JZ   sumdone

sumloop:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $32, SI
	DECQ      CX
	JNZ       sumloop

sumdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VZEROUPPER
	MOVSD X0, ret+16(FP)
	RET

// func sqDevAVX2(y *float32, n int, mean float64) float64
// The float64 sum of (y[j] - mean)^2 over y[:n] (n a multiple of 8), in the
// same eight partial sums as sumAVX2.
TEXT ·sqDevAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD mean+16(FP), Y4
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	SHRQ $3, CX
	JZ   sqdone

sqloop:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VSUBPD    Y4, Y2, Y2
	VSUBPD    Y4, Y3, Y3
	VMULPD    Y2, Y2, Y2
	VMULPD    Y3, Y3, Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $32, SI
	DECQ      CX
	JNZ       sqloop

sqdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET

// func normAffineAVX2(dst, y, gamma, beta *float32, n int, mean, rstd float64)
// dst[j] = float32((y[j] - mean) * rstd * gamma[j] + beta[j]) in float64 for
// j < n (n a multiple of 4): the operations of the scalar loop, in its order
// and without fused multiply-adds, so each element rounds as there. dst may
// be y.
TEXT ·normAffineAVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ gamma+16(FP), DX
	MOVQ beta+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSD mean+40(FP), Y4
	VBROADCASTSD rstd+48(FP), Y5
	SHRQ $2, CX
	JZ   normdone

normloop:
	VCVTPS2PD (SI), Y0
	VSUBPD    Y4, Y0, Y0
	VMULPD    Y5, Y0, Y0
	VCVTPS2PD (DX), Y1
	VMULPD    Y1, Y0, Y0
	VCVTPS2PD (R8), Y2
	VADDPD    Y2, Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS   X0, (DI)
	ADDQ      $16, SI
	ADDQ      $16, DI
	ADDQ      $16, DX
	ADDQ      $16, R8
	DECQ      CX
	JNZ       normloop

normdone:
	VZEROUPPER
	RET
