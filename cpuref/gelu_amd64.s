//go:build !purego

#include "textflag.h"

// Constants of gelu (mathf.go), as float64: 1/sqrt(2), the branch limits 4 and
// -1.5, 0.5, 1, and erf's rational approximation P (p0..p6) and Q (q0..q4).
DATA geluConst<>+0(SB)/8, $0x3fe6a09e667f3bcd   // 1/sqrt2, as Go rounds the constant
DATA geluConst<>+8(SB)/8, $0x4010000000000000   // 4
DATA geluConst<>+16(SB)/8, $0xbff8000000000000  // -1.5
DATA geluConst<>+24(SB)/8, $0x3fe0000000000000  // 0.5
DATA geluConst<>+32(SB)/8, $0x3ff0000000000000  // 1
DATA geluConst<>+40(SB)/8, $0xbdf2bbe1536358b7  // p0
DATA geluConst<>+48(SB)/8, $0x3e5dbffdb951fff6  // p1
DATA geluConst<>+56(SB)/8, $0xbec19fea2baa463b  // p2
DATA geluConst<>+64(SB)/8, $0xbf0dd85a4dc426e3  // p3
DATA geluConst<>+72(SB)/8, $0xbf48158c5c2ce6a4  // p4
DATA geluConst<>+80(SB)/8, $0xbf68343eb19d459e  // p5
DATA geluConst<>+88(SB)/8, $0xbf907b7a82ed1713  // p6
DATA geluConst<>+96(SB)/8, $0xbeee8c19abb84b81  // q0
DATA geluConst<>+104(SB)/8, $0xbf2bf7a52db09376 // q1
DATA geluConst<>+112(SB)/8, $0xbf5b9249b4778fb8 // q2
DATA geluConst<>+120(SB)/8, $0xbf7e337efa2c2f02 // q3
DATA geluConst<>+128(SB)/8, $0xbf8d36d4ddb1cdc3 // q4
GLOBL geluConst<>(SB), RODATA|NOPTR, $136

// func geluAVX2(x, bias *float32, n int)
// x[j] = gelu(x[j] + bias[j]) for j < n (n a multiple of 4; bias may be nil),
// four lanes at a time in float64 with the same operations, in the same order
// and without fused multiply-adds, as gelu in mathf.go, so each lane rounds
// exactly as gelu does. Lanes with z = v/sqrt(2) < -1.5 (gelu's erfc branch)
// are left holding v = x + bias, for the caller to finish.
// HORNER(acc, off) sets acc = acc*z2 + c with z2 in Y3 and c at geluConst+off
// (a multiply, then an add: two roundings, as Go computes p*z2 + c).
#define HORNER(acc, off) \
	VBROADCASTSD geluConst<>+off(SB), Y5 \
	VMULPD       Y3, acc, acc \
	VADDPD       Y5, acc, acc

TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ bias+8(FP), DX
	MOVQ n+16(FP), CX
	SHRQ $2, CX
	JZ   done
	VBROADCASTSD geluConst<>+0(SB), Y15
	VBROADCASTSD geluConst<>+8(SB), Y14
	VBROADCASTSD geluConst<>+16(SB), Y13
	VBROADCASTSD geluConst<>+24(SB), Y12
	VBROADCASTSD geluConst<>+32(SB), Y11

loop:
	VMOVUPS (SI), X0
	TESTQ   DX, DX
	JZ      nobias
	VADDPS  (DX), X0, X0 // v = x + bias, in float32
	ADDQ    $16, DX

nobias:
	VCVTPS2PD X0, Y1  // v as float64
	VMULPD    Y15, Y1, Y2 // z = v * (1/sqrt2)
	VMULPD    Y2, Y2, Y3  // z2 = z * z

	// p = p0; p = p*z2 + p_i for i = 1..6
	VBROADCASTSD geluConst<>+40(SB), Y4
	HORNER(Y4, 48)
	HORNER(Y4, 56)
	HORNER(Y4, 64)
	HORNER(Y4, 72)
	HORNER(Y4, 80)
	HORNER(Y4, 88)

	// q = q0; q = q*z2 + q_i for i = 1..4
	VBROADCASTSD geluConst<>+96(SB), Y6
	HORNER(Y6, 104)
	HORNER(Y6, 112)
	HORNER(Y6, 120)
	HORNER(Y6, 128)

	VMULPD Y4, Y2, Y4 // z * p
	VDIVPD Y6, Y4, Y4 // erf = z*p / q

	VCMPPD    $0x1e, Y14, Y2, Y7 // z > 4 (ordered): erf = 1
	VBLENDVPD Y7, Y11, Y4, Y4
	VMULPD    Y12, Y1, Y8 // 0.5 * v
	VADDPD    Y11, Y4, Y4 // 1 + erf
	VMULPD    Y4, Y8, Y8  // (0.5 * v) * (1 + erf)
	VCMPPD    $0x11, Y13, Y2, Y7 // z < -1.5 (ordered): keep v
	VBLENDVPD Y7, Y1, Y8, Y8
	VCVTPD2PSY Y8, X8 // round once to float32 (v itself is exact)
	VMOVUPS   X8, (SI)
	ADDQ      $16, SI
	DECQ      CX
	JNZ       loop

done:
	VZEROUPPER
	RET
