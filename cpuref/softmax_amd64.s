//go:build !purego

#include "textflag.h"

// Constants of expf (mathf.go): log2(e), the rounding magic 1.5*2^23, ln2 split
// in c1+c2, the Cephes polynomial p0..p5, the range limits and 1.
DATA expConst<>+0(SB)/4, $0x3fb8aa3b  // log2e
DATA expConst<>+4(SB)/4, $0x4b400000  // magic
DATA expConst<>+8(SB)/4, $0x3f318000  // c1 = 0.693359375
DATA expConst<>+12(SB)/4, $0xb95e8083 // c2 = -2.12194440e-4
DATA expConst<>+16(SB)/4, $0x39506967 // p0
DATA expConst<>+20(SB)/4, $0x3ab743ce // p1
DATA expConst<>+24(SB)/4, $0x3c088908 // p2
DATA expConst<>+28(SB)/4, $0x3d2aa9c1 // p3
DATA expConst<>+32(SB)/4, $0x3e2aaaaa // p4
DATA expConst<>+36(SB)/4, $0x3f000000 // p5
DATA expConst<>+40(SB)/4, $0xc2cff1b5 // low = -103.97208 (expfLow)
DATA expConst<>+44(SB)/4, $0x42b00000 // high = 88
DATA expConst<>+48(SB)/4, $0x3f800000 // 1
DATA expConst<>+52(SB)/4, $0xff800000 // -Inf
DATA expConst<>+56(SB)/4, $-126        // the least normal exponent (int)
DATA expConst<>+60(SB)/4, $24          // the subnormal pre-scale 2^24 (int)
GLOBL expConst<>(SB), RODATA|NOPTR, $64

// EXP_BODY computes Y3 = exp(Y0 - m) lane by lane (m in Y14, constants in
// Y8-Y13) by expf's algorithm, its products fused into multiply-adds (so a
// value may differ from expf's in the last bit): 0 below low (and for -Inf),
// NaN for NaN, and below 2^-126 the subnormal y * 2^(n+24) * 2^-24, scaled as
// expf scales it (s = 24 where n < -126, else 0: Y6 = 2^(n+s), Y2 = 2^-s).
// It uses Y0-Y7.
#define EXP_BODY \
	VSUBPS  Y14, Y0, Y0 \
	VCMPPS  $3, Y0, Y0, Y5 \
	VCMPPS  $1, Y9, Y0, Y4 \
	VMAXPS  Y9, Y0, Y0 \
	VBROADCASTSS expConst<>+44(SB), Y7 \
	VMINPS  Y7, Y0, Y0 \
	VMOVAPS Y12, Y1 \
	VFMADD231PS Y13, Y0, Y1 \
	VSUBPS  Y12, Y1, Y2 \
	VPSUBD  Y12, Y1, Y6 \
	VPBROADCASTD expConst<>+56(SB), Y7 \
	VPCMPGTD Y6, Y7, Y7 \
	VPBROADCASTD expConst<>+60(SB), Y1 \
	VPAND   Y1, Y7, Y7 \
	VPADDD  Y7, Y6, Y6 \
	VPSLLD  $23, Y6, Y6 \
	VPADDD  Y8, Y6, Y6 \
	VPSLLD  $23, Y7, Y7 \
	VFNMADD231PS Y11, Y2, Y0 \
	VFNMADD231PS Y10, Y2, Y0 \
	VPSUBD  Y7, Y8, Y2 \
	VBROADCASTSS expConst<>+16(SB), Y3 \
	VBROADCASTSS expConst<>+20(SB), Y7 \
	VFMADD213PS Y7, Y0, Y3 \
	VBROADCASTSS expConst<>+24(SB), Y7 \
	VFMADD213PS Y7, Y0, Y3 \
	VBROADCASTSS expConst<>+28(SB), Y7 \
	VFMADD213PS Y7, Y0, Y3 \
	VBROADCASTSS expConst<>+32(SB), Y7 \
	VFMADD213PS Y7, Y0, Y3 \
	VBROADCASTSS expConst<>+36(SB), Y7 \
	VFMADD213PS Y7, Y0, Y3 \
	VMULPS  Y0, Y0, Y7 \
	VFMADD213PS Y0, Y7, Y3 \
	VADDPS  Y8, Y3, Y3 \
	VMULPS  Y6, Y3, Y3 \
	VMULPS  Y2, Y3, Y3 \
	VANDNPS Y3, Y4, Y3 \
	VORPS   Y5, Y3, Y3

// tailMask<>+32-4*k holds k all-ones lanes, then zero lanes: the mask of
// the last k < 8 elements of a row.
DATA tailMask<>+0(SB)/4, $0xffffffff
DATA tailMask<>+4(SB)/4, $0xffffffff
DATA tailMask<>+8(SB)/4, $0xffffffff
DATA tailMask<>+12(SB)/4, $0xffffffff
DATA tailMask<>+16(SB)/4, $0xffffffff
DATA tailMask<>+20(SB)/4, $0xffffffff
DATA tailMask<>+24(SB)/4, $0xffffffff
DATA tailMask<>+28(SB)/4, $0xffffffff
DATA tailMask<>+32(SB)/4, $0
DATA tailMask<>+36(SB)/4, $0
DATA tailMask<>+40(SB)/4, $0
DATA tailMask<>+44(SB)/4, $0
DATA tailMask<>+48(SB)/4, $0
DATA tailMask<>+52(SB)/4, $0
DATA tailMask<>+56(SB)/4, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $60

// func expShiftAVX2(x *float32, n int, m float32) float32
// x[j] = exp(x[j] - m) for j < n, returning the sum (EXP_BODY: expf's algorithm). Below
// -103.97208 (and for -Inf) the result is 0; NaN stays NaN. The last n%8 elements go through the
// same lanes as whole vectors (a masked load with -Inf in the other lanes, a
// masked store), so each element's value and its place in the lane sums do not
// depend on how many elements follow it: a row padded with masked (-Inf) keys
// gives exactly the values and the sum of the row alone.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y14
	VBROADCASTSS expConst<>+0(SB), Y13
	VBROADCASTSS expConst<>+4(SB), Y12
	VBROADCASTSS expConst<>+8(SB), Y11
	VBROADCASTSS expConst<>+12(SB), Y10
	VBROADCASTSS expConst<>+40(SB), Y9
	VBROADCASTSS expConst<>+48(SB), Y8
	VXORPS Y15, Y15, Y15
	SHRQ $3, CX
	JZ   tail

loop:
	VMOVUPS (SI), Y0
	EXP_BODY
	VMOVUPS Y3, (SI)
	VADDPS  Y3, Y15, Y15
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop

tail:
	MOVQ n+8(FP), DX
	ANDQ $7, DX
	JZ   done
	LEAQ tailMask<>+32(SB), R8
	SHLQ $2, DX
	SUBQ DX, R8                 // R8: the mask of the last n%8 lanes
	VMOVUPS (R8), Y7
	VMASKMOVPS (SI), Y7, Y0
	VBROADCASTSS expConst<>+52(SB), Y1
	VBLENDVPS Y7, Y0, Y1, Y0    // -Inf (exp 0) in the lanes past the end
	EXP_BODY
	VMOVUPS (R8), Y7
	VMASKMOVPS Y3, Y7, (SI)
	VADDPS  Y3, Y15, Y15

done:
	VEXTRACTF128 $1, Y15, X0
	VADDPS  X0, X15, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS   X0, ret+24(FP)
	RET

// func maxAVX2(x *float32, n int) float32
// The largest of x[:n] (n a multiple of 8), ignoring NaN; -Inf if none.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS expConst<>+52(SB), Y0
	VMOVAPS Y0, Y2
	SHRQ $4, CX
	JZ   tail

loop16:
	VMOVUPS (SI), Y1
	VMAXPS  Y0, Y1, Y0          // x > acc ? x : acc; NaN x keeps acc
	VMOVUPS 32(SI), Y3
	VMAXPS  Y2, Y3, Y2
	ADDQ    $64, SI
	DECQ    CX
	JNZ     loop16

tail:
	MOVQ n+8(FP), CX
	ANDQ $8, CX
	JZ   reduce
	VMOVUPS (SI), Y1
	VMAXPS  Y0, Y1, Y0

reduce:
	VMAXPS  Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS  X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS  X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS  X1, X0, X0
	VZEROUPPER
	MOVSS   X0, ret+16(FP)
	RET

// EXP_BODY512(X, T, N, Y, SQ, KN) is EXP_BODY on sixteen lanes, bit for bit:
// Y = exp(X - m) (m in Z14, the constants in Z8-Z13 and Z18-Z23), the same
// operations in the same order but three: the scaling by 2^n is one
// VSCALEFPS, which rounds y * 2^n once, as EXP_BODY's y * 2^(n+s) * 2^-s
// does (its first product is exact but where n = -150 and y < 1, and there
// both give 0); the clamp to 88 is left out, as expShift's caller promises
// X - m <= 88; and the lanes below low need no mask: clamped to low, they
// come out 0, as exp(low) does (TestExpShiftAVX512Exhaustive checks every
// value there). NaN lanes (mask KN) get the all-ones NaN that EXP_BODY's VORPS
// gives. It overwrites X, T, N, Y, SQ and KN.
#define EXP_BODY512(X, T, N, Y, SQ, KN) \
	VSUBPS  Z14, X, X \
	VCMPPS  $3, X, X, KN \
	VMAXPS  Z9, X, X \
	VMOVAPS Z12, T \
	VFMADD231PS Z13, X, T \
	VSUBPS  Z12, T, N \
	VFNMADD231PS Z11, N, X \
	VFNMADD231PS Z10, N, X \
	VMOVAPS Z18, Y \
	VFMADD213PS Z19, X, Y \
	VFMADD213PS Z20, X, Y \
	VFMADD213PS Z21, X, Y \
	VFMADD213PS Z22, X, Y \
	VFMADD213PS Z23, X, Y \
	VMULPS  X, X, SQ \
	VFMADD213PS X, SQ, Y \
	VADDPS  Z8, Y, Y \
	VSCALEFPS N, Y, Y \
	VPTERNLOGD $0xff, Y, Y, KN, Y

// func expShiftAVX512(x *float32, n int, m float32) float32
// expShiftAVX2 sixteen elements at a time: each value bit for bit as EXP_BODY's, and
// the sum bit for bit as expShiftAVX2's, whose eight lane sums it keeps (the
// low half of each group added before the high half, in the order
// expShiftAVX2 adds them; the lanes past the end of the row add +0). Two
// vectors at a time, so that their exp's dependency chains overlap.
TEXT ·expShiftAVX512(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Z14
	VBROADCASTSS expConst<>+0(SB), Z13
	VBROADCASTSS expConst<>+4(SB), Z12
	VBROADCASTSS expConst<>+8(SB), Z11
	VBROADCASTSS expConst<>+12(SB), Z10
	VBROADCASTSS expConst<>+40(SB), Z9
	VBROADCASTSS expConst<>+48(SB), Z8
	VBROADCASTSS expConst<>+16(SB), Z18
	VBROADCASTSS expConst<>+20(SB), Z19
	VBROADCASTSS expConst<>+24(SB), Z20
	VBROADCASTSS expConst<>+28(SB), Z21
	VBROADCASTSS expConst<>+32(SB), Z22
	VBROADCASTSS expConst<>+36(SB), Z23
	VXORPS Y16, Y16, Y16 // the eight lane sums
	SHRQ $5, CX
	JZ   one512

loop512:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z4
	EXP_BODY512(Z0, Z1, Z2, Z3, Z7, K5)
	EXP_BODY512(Z4, Z5, Z6, Z24, Z25, K6)
	VMOVUPS Z3, (SI)
	VMOVUPS Z24, 64(SI)
	VEXTRACTF32X8 $1, Z3, Y17
	VADDPS  Y3, Y16, Y16
	VADDPS  Y17, Y16, Y16
	VEXTRACTF32X8 $1, Z24, Y17
	VADDPS  Y24, Y16, Y16
	VADDPS  Y17, Y16, Y16
	ADDQ    $128, SI
	DECQ    CX
	JNZ     loop512

one512:
	MOVQ n+8(FP), CX
	TESTQ $16, CX
	JZ   tail512
	VMOVUPS (SI), Z0
	EXP_BODY512(Z0, Z1, Z2, Z3, Z7, K5)
	VMOVUPS Z3, (SI)
	VEXTRACTF32X8 $1, Z3, Y17
	VADDPS  Y3, Y16, Y16
	VADDPS  Y17, Y16, Y16
	ADDQ    $64, SI

tail512:
	ANDQ $15, CX
	JZ   done512
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1 // the last n%16 lanes
	VBROADCASTSS expConst<>+52(SB), Z0
	VMOVUPS (SI), K1, Z0 // -Inf (exp 0) in the lanes past the end
	EXP_BODY512(Z0, Z1, Z2, Z3, Z7, K5)
	VMOVUPS Z3, K1, (SI)
	VEXTRACTF32X8 $1, Z3, Y17
	VADDPS  Y3, Y16, Y16
	VADDPS  Y17, Y16, Y16

done512:
	VEXTRACTF32X4 $1, Y16, X0
	VADDPS  X0, X16, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS   X0, ret+24(FP)
	RET
