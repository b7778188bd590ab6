//go:build !purego

#include "textflag.h"

// geluLanes are the lane numbers 0-7 (int32), for the indices of the erfc
// branch's lanes.
DATA geluLanes<>+0(SB)/4, $0
DATA geluLanes<>+4(SB)/4, $1
DATA geluLanes<>+8(SB)/4, $2
DATA geluLanes<>+12(SB)/4, $3
DATA geluLanes<>+16(SB)/4, $4
DATA geluLanes<>+20(SB)/4, $5
DATA geluLanes<>+24(SB)/4, $6
DATA geluLanes<>+28(SB)/4, $7
GLOBL geluLanes<>(SB), RODATA|NOPTR, $32

// Constants of gelu (mathf.go), as float64: 1/sqrt(2), the tail's bound 2.25
// on z^2, 0.5, 1, 2 and the mask of all bits but the sign. The polynomial's
// coefficients are read from erfRatioCoef.
DATA geluConst<>+0(SB)/8, $0x3fe6a09e667f3bcd  // 1/sqrt2, as Go rounds the constant
DATA geluConst<>+8(SB)/8, $0x4002000000000000  // 2.25
DATA geluConst<>+16(SB)/8, $0x3fe0000000000000 // 0.5
DATA geluConst<>+24(SB)/8, $0x3ff0000000000000 // 1
DATA geluConst<>+32(SB)/8, $0x4000000000000000 // 2
DATA geluConst<>+40(SB)/8, $0x7fffffffffffffff // |.|
GLOBL geluConst<>(SB), RODATA|NOPTR, $48

// func geluAVX2(x, bias *float32, n int)
// x[j] = gelu(x[j] + bias[j]) for j < n (n a multiple of 4; bias may be nil),
// four lanes at a time in float64 with the same operations, in the same order,
// as gelu in mathf.go, so each lane rounds exactly as gelu does. Lanes with
// z*z > 2.25 for z = v/sqrt(2) (gelu's tail branch) are left holding v = x +
// bias, for the caller to finish.
// HORNER(acc, off) sets acc = acc*t + c with t in Y3 and c at erfRatioCoef+off
// in one fused multiply-add (one rounding, as math.FMA(p, t, c) in gelu).
#define HORNER(acc, off) \
	VBROADCASTSD ·erfRatioCoef+off(SB), Y5 \
	VFMADD213PD  Y5, Y3, acc

TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ bias+8(FP), DX
	MOVQ n+16(FP), CX
	SHRQ $2, CX
	JZ   done
	VBROADCASTSD geluConst<>+0(SB), Y15
	VBROADCASTSD geluConst<>+8(SB), Y14
	VBROADCASTSD geluConst<>+16(SB), Y12
	VBROADCASTSD geluConst<>+24(SB), Y11

loop:
	VMOVUPS (SI), X0
	TESTQ   DX, DX
	JZ      nobias
	VADDPS  (DX), X0, X0 // v = x + bias, in float32
	ADDQ    $16, DX

nobias:
	VCVTPS2PD X0, Y1      // v as float64
	VMULPD    Y15, Y1, Y2 // z = v * (1/sqrt2)
	VMULPD    Y2, Y2, Y3  // t = z * z

	// p = c0; p = p*t + c_i for i = 1..10
	VBROADCASTSD ·erfRatioCoef+0(SB), Y4
	HORNER(Y4, 8)
	HORNER(Y4, 16)
	HORNER(Y4, 24)
	HORNER(Y4, 32)
	HORNER(Y4, 40)
	HORNER(Y4, 48)
	HORNER(Y4, 56)
	HORNER(Y4, 64)
	HORNER(Y4, 72)
	HORNER(Y4, 80)

	VMULPD    Y4, Y2, Y4 // erf = z * p
	VADDPD    Y11, Y4, Y4 // 1 + erf
	VMULPD    Y12, Y1, Y8 // 0.5 * v
	VMULPD    Y4, Y8, Y8  // (0.5 * v) * (1 + erf)
	VCMPPD    $0x1e, Y14, Y3, Y7 // t > 2.25 (ordered): keep v
	VBLENDVPD Y7, Y1, Y8, Y8
	VCVTPD2PSY Y8, X8 // round once to float32 (v itself is exact)
	VMOVUPS   X8, (SI)
	ADDQ      $16, SI
	DECQ      CX
	JNZ       loop

done:
	VZEROUPPER
	RET

// func geluAVX512(x, bias *float32, n int)
// x[j] = gelu(x[j] + bias[j]) for j < n (bias may be nil), eight lanes at a
// time in float64, the last group under a mask, every lane rounded exactly as
// gelu rounds it (mathf.go): the polynomial with the same fused multiply-adds
// and multiplies as geluAVX2, the tail branch (z*z > 2.25) as geluTail
// (gelu_tail.go), whose tables it reads. x goes in blocks of 128 elements,
// and the tail branch runs in a second pass over only the block's lanes that
// take it: the first pass leaves their v in x and packs their indices into the
// frame, the second gathers them eight at a time and scatters the results, so
// a group with one such lane does not run both branches.
//
// Z31 1/sqrt2, Z30 2, Z29 2.25, Z28 0.5, Z27 1, Z26 0, Z25 erfcTailStart,
// Z24 1/erfcTailWidth, Z23 int64 7, Z22 erfcTailEnd, Z21 log2(e),
// Z20 1.5*2^52, Z19 and Z18 -ln2 (float64 and remainder); in the first
// pass, Y9 the lane numbers 0-7 (int32).
#define HORNER512(acc, off) \
	VFMADD213PD.BCST ·erfRatioCoef+off(SB), Z3, acc

TEXT ·geluAVX512(SB), NOSPLIT, $512-24
	MOVQ x+0(FP), SI
	MOVQ bias+8(FP), DX
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JLE   done512
	VBROADCASTSD geluConst<>+0(SB), Z31
	VBROADCASTSD geluConst<>+32(SB), Z30
	VBROADCASTSD geluConst<>+8(SB), Z29
	VBROADCASTSD geluConst<>+16(SB), Z28
	VBROADCASTSD geluConst<>+24(SB), Z27
	VPXORQ       Z26, Z26, Z26
	VBROADCASTSD ·geluTailConst+8(SB), Z25
	VBROADCASTSD ·geluTailConst+0(SB), Z24
	MOVQ         $7, AX
	VPBROADCASTQ AX, Z23
	VBROADCASTSD ·geluTailConst+16(SB), Z22
	VBROADCASTSD ·geluTailConst+24(SB), Z21
	VBROADCASTSD ·geluTailConst+32(SB), Z20
	VBROADCASTSD ·geluTailConst+40(SB), Z19
	VBROADCASTSD ·geluTailConst+48(SB), Z18

block512:
	// A block: R11 elements (at most 128) from R12; R10 the index of a
	// group's first element in it, BX the elements left, R9 the next free
	// index slot of the frame.
	MOVQ CX, R11
	CMPQ R11, $128
	JLE  blocksize512
	MOVQ $128, R11

blocksize512:
	VMOVDQU geluLanes<>(SB), Y9 // (the erfc pass uses Z9)
	MOVQ    SI, R12
	MOVQ R11, BX
	XORQ R10, R10
	LEAQ 0(SP), R9

loop512:
	// K1: the lanes of this group (all eight, or the fewer left).
	MOVL $0xff, AX
	CMPQ BX, $8
	JGE  mask512
	MOVL $1, AX
	MOVQ BX, R13
	SHLXL R13, AX, AX
	DECL AX

mask512:
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Y0
	TESTQ     DX, DX
	JZ        nobias512
	VMOVUPS.Z (DX), K1, Y1
	VADDPS    Y1, Y0, Y0 // v = x + bias, in float32
	ADDQ      $32, DX

nobias512:
	VCVTPS2PD Y0, Z1     // v as float64
	VMULPD    Z31, Z1, Z2 // z = v * (1/sqrt2)
	VMULPD    Z2, Z2, Z3  // t = z * z

	// erf = z*p as gelu computes it (HORNER in geluAVX2).
	VBROADCASTSD ·erfRatioCoef+0(SB), Z4
	HORNER512(Z4, 8)
	HORNER512(Z4, 16)
	HORNER512(Z4, 24)
	HORNER512(Z4, 32)
	HORNER512(Z4, 40)
	HORNER512(Z4, 48)
	HORNER512(Z4, 56)
	HORNER512(Z4, 64)
	HORNER512(Z4, 72)
	HORNER512(Z4, 80)
	VMULPD Z4, Z2, Z4   // erf = z * p
	VADDPD Z27, Z4, Z4  // 1 + erf
	VMULPD Z28, Z1, Z7  // 0.5 * v
	VMULPD Z4, Z7, Z8   // (0.5 * v) * (1 + erf)

	VCMPPD   $0x1e, Z29, Z3, K3 // t > 2.25 (ordered): the tail branch
	KORTESTW K3, K3
	JZ       store512

	// The tail branch's lanes keep v, and their indices go to the frame.
	VPBROADCASTD R10, Y10
	VPADDD       Y9, Y10, Y10
	VPCOMPRESSD  Y10, K3, (R9)
	KMOVW        K3, AX
	POPCNTL      AX, AX
	LEAQ         (R9)(AX*4), R9
	VCVTPD2PS    Z8, Y8
	VMOVAPS      Y0, K3, Y8
	VMOVUPS      Y8, K1, (SI)
	JMP          next512

store512:
	VCVTPD2PS Z8, Y8 // round once to float32
	VMOVUPS   Y8, K1, (SI)

next512:
	ADDQ      $32, SI
	ADDQ      $8, R10
	SUBQ      $8, BX
	JG        loop512

	// Second pass: the block's tail lanes, eight at a time (R13 left).
	LEAQ 0(SP), R13
	SUBQ R13, R9
	MOVQ R9, R13
	SHRQ $2, R13
	LEAQ 0(SP), R9

tailloop512:
	TESTQ R13, R13
	JLE   blockdone512
	MOVL  $0xff, AX
	CMPQ  R13, $8
	JGE   tailmask512
	MOVL  $1, AX
	SHLXL R13, AX, AX
	DECL  AX

tailmask512:
	KMOVW       AX, K1
	KMOVW       AX, K2
	VMOVDQU32.Z (R9), K1, Y13
	VPXORD      Y0, Y0, Y0
	VGATHERDPS  (R12)(Y13*4), K2, Y0 // v
	VCVTPS2PD   Y0, Z1
	VMULPD      Z31, Z1, Z2 // z
	VMULPD    Z28, Z1, Z7  // 0.5 * v

	// geluTail: erfc(u) for u = |z| by its interval's polynomial times
	// exp(-v*v/2), the intervals and coefficients read from its tables.
	VANDPD.BCST geluConst<>+40(SB), Z2, Z9 // u = |z|
	VCMPPD     $0x1d, Z22, Z9, K4 // u >= erfcTailEnd: erfc = 0
	VSUBPD     Z25, Z9, Z10       // (u - start) * (1/width), truncated: the interval
	VMULPD     Z24, Z10, Z10
	VCVTTPD2QQ Z10, Z10
	VPMINSQ    Z23, Z10, Z10
	VPERMPD    ·erfcTailCentre(SB), Z10, Z11
	VSUBPD     Z11, Z9, Z11 // s = u - centre
	VPERMPD    ·erfcTailCoef+0(SB), Z10, Z12

#define TAILSTEP(off) \
	VPERMPD     ·erfcTailCoef+off(SB), Z10, Z13 \
	VFMADD213PD Z13, Z11, Z12

	TAILSTEP(64)
	TAILSTEP(128)
	TAILSTEP(192)
	TAILSTEP(256)
	TAILSTEP(320)
	TAILSTEP(384)
	TAILSTEP(448)
	TAILSTEP(512)
	TAILSTEP(576)
	TAILSTEP(640)

	// exp(-v*v/2) as expNegHalfSquare: a = -(v*v)/2 (exact), n =
	// round(a*log2e) by the 1.5*2^52 shift, r = a - n*ln2 in two FMAs,
	// exp(r) by Taylor's series, scaled by 2^n.
	VMULPD      Z1, Z1, Z14
	VMULPD      Z28, Z14, Z14
	VSUBPD      Z14, Z26, Z14 // a
	VMOVAPD     Z20, Z15
	VFMADD231PD Z21, Z14, Z15 // t = a*log2e + 1.5*2^52
	VSUBPD      Z20, Z15, Z15 // n = t - 1.5*2^52
	VMOVAPD     Z14, Z16
	VFMADD231PD Z19, Z15, Z16 // r = n*-ln2 + a
	VFMADD231PD Z18, Z15, Z16 // r = n*-ln2lo + r
	VBROADCASTSD ·expTaylor+0(SB), Z17

#define EXPSTEP(off) \
	VFMADD213PD.BCST ·expTaylor+off(SB), Z16, Z17

	EXPSTEP(8)
	EXPSTEP(16)
	EXPSTEP(24)
	EXPSTEP(32)
	EXPSTEP(40)
	EXPSTEP(48)
	EXPSTEP(56)
	EXPSTEP(64)
	EXPSTEP(72)
	EXPSTEP(80)
	EXPSTEP(88)
	VSCALEFPD Z15, Z17, Z17 // exp(r) * 2^n
	VMULPD    Z17, Z12, Z12 // erfc = p * exp
	VMOVAPD   Z26, K4, Z12  // 0 beyond erfcTailEnd
	VCMPPD    $0x1e, Z26, Z1, K5 // v > 0 (ordered): 1 + erf = 2 - erfc
	VSUBPD    Z12, Z30, K5, Z12
	VMULPD    Z12, Z7, Z12  // (0.5 * v) * (1 + erf)
	VCVTPD2PS   Z12, Y12 // round once to float32
	VMOVDQU32.Z (R9), K1, Y13 // the indices again (TAILSTEP used Z13)
	VSCATTERDPS Y12, K1, (R12)(Y13*4)
	ADDQ $32, R9
	SUBQ $8, R13
	JMP  tailloop512

blockdone512:
	SUBQ R11, CX
	JG   block512

done512:
	VZEROUPPER
	RET
