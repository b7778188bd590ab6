//go:build !purego

#include "textflag.h"

// REDUCE8PD leaves the sum of the eight float64 lanes of Z0 in X0's low
// lane, halving the vector at each step; Z1 is scratch.
#define REDUCE8PD \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPD        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPD        X1, X0, X0 \
	VHADDPD       X0, X0, X0

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

// func sumAVX512(y *float32, n int) float64
// The float64 sum of y[:n] (n a multiple of 32) in thirty-two partial sums,
// four vectors of eight lanes, so that four addition chains overlap.
TEXT ·sumAVX512(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3
	SHRQ $5, CX
	JZ   sum512done

sum512loop:
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD 64(SI), Z6
	VCVTPS2PD 96(SI), Z7
	VADDPD    Z4, Z0, Z0
	VADDPD    Z5, Z1, Z1
	VADDPD    Z6, Z2, Z2
	VADDPD    Z7, Z3, Z3
	ADDQ      $128, SI
	DECQ      CX
	JNZ       sum512loop

sum512done:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	VADDPD Z2, Z0, Z0
	REDUCE8PD
	VZEROUPPER
	MOVSD X0, ret+16(FP)
	RET

// func sqDevAVX512(y *float32, n int, mean float64) float64
// The float64 sum of (y[j] - mean)^2 over y[:n] (n a multiple of 32), in the
// same thirty-two partial sums as sumAVX512.
TEXT ·sqDevAVX512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD mean+16(FP), Z8
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3
	SHRQ $5, CX
	JZ   sq512done

sq512loop:
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   64(SI), Z6
	VCVTPS2PD   96(SI), Z7
	VSUBPD      Z8, Z4, Z4
	VSUBPD      Z8, Z5, Z5
	VSUBPD      Z8, Z6, Z6
	VSUBPD      Z8, Z7, Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VFMADD231PD Z6, Z6, Z2
	VFMADD231PD Z7, Z7, Z3
	ADDQ        $128, SI
	DECQ        CX
	JNZ         sq512loop

sq512done:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	VADDPD Z2, Z0, Z0
	REDUCE8PD
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET

// func normAffineAVX512(dst, y, gamma, beta *float32, n int, mean, rstd float64)
// normAffineAVX2 eight lanes at a time (n a multiple of 8), the same
// operations in the same order: each element rounds as in the scalar loop.
TEXT ·normAffineAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ gamma+16(FP), DX
	MOVQ beta+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSD mean+40(FP), Z4
	VBROADCASTSD rstd+48(FP), Z5
	SHRQ $3, CX
	JZ   norm512done

norm512loop:
	VCVTPS2PD (SI), Z0
	VSUBPD    Z4, Z0, Z0
	VMULPD    Z5, Z0, Z0
	VCVTPS2PD (DX), Z1
	VMULPD    Z1, Z0, Z0
	VCVTPS2PD (R8), Z2
	VADDPD    Z2, Z0, Z0
	VCVTPD2PS Z0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	ADDQ      $32, DX
	ADDQ      $32, R8
	DECQ      CX
	JNZ       norm512loop

norm512done:
	VZEROUPPER
	RET
