//go:build !purego

#include "textflag.h"

// Weight-streaming dot products for gemvTransB: one row of weights (float32,
// or bfloat16 or float16 bits) against one or four float32 rows of a, 32
// weights an iteration into two accumulators per row (the same order for
// every weight type, so that half weights give bitwise the result of float32
// weights of the same values), k a positive multiple of 32. Halves widen in
// registers: bfloat16 by a zero-extend and a shift, float16 by VCVTPH2PS.
// LOAD(h, z) puts weights 16h ... 16h+15 of the iteration into z. PF
// prefetches the iteration's weight lines 4 KiB ahead (across rows: a
// matrix's rows follow each other), which lifts two cores' streaming rate
// from about 12 to 20+ GB/s here, next to the hardware prefetcher alone;
// for half weights also 64 KiB ahead into L2 (PREFETCHT1), so that the near
// prefetches mostly find their lines there: one Llama-3.2-1B block
// (gpubench bench --op decoder-step) 58-68% -> 71-75% of memory_gbps.

#define F32(h, z) VMOVUPS (h*64)(SI)(AX*4), z
#define BF16(h, z) VPMOVZXWD (h*32)(SI)(AX*2), z; VPSLLD $16, z, z
#define F16(h, z) VCVTPH2PS (h*32)(SI)(AX*2), z
#define PF_F32 PREFETCHT0 4096(SI)(AX*4); PREFETCHT0 4160(SI)(AX*4)
#define PF_HALF PREFETCHT0 4096(SI)(AX*2); PREFETCHT1 65536(SI)(AX*2)

// HSUM stores the sum of the lanes of za + zb (float32) at dst; zt/yt/xt
// name one scratch register.
#define HSUM(za, ya, xa, zb, zt, yt, xt, dst) \
	VADDPS        zb, za, za; \
	VEXTRACTF64X4 $1, za, yt; \
	VADDPS        yt, ya, ya; \
	VEXTRACTF128  $1, ya, xt; \
	VADDPS        xt, xa, xa; \
	VHADDPS       xa, xa, xa; \
	VHADDPS       xa, xa, xa; \
	MOVSS         xa, dst

#define ONE_ROW(LOAD, PF) \
	MOVQ   a+0(FP), R8; \
	MOVQ   w+8(FP), SI; \
	MOVQ   k+16(FP), CX; \
	VXORPS Z0, Z0, Z0; \
	VXORPS Z4, Z4, Z4; \
	XORQ   AX, AX; \
one_loop: \
	PF; \
	LOAD(0, Z8); \
	LOAD(1, Z9); \
	VFMADD231PS (R8)(AX*4), Z8, Z0; \
	VFMADD231PS 64(R8)(AX*4), Z9, Z4; \
	ADDQ   $32, AX; \
	CMPQ   AX, CX; \
	JLT    one_loop; \
	HSUM(Z0, Y0, X0, Z4, Z10, Y10, X10, ret+24(FP)); \
	VZEROUPPER; \
	RET

#define FOUR_ROWS(LOAD, PF) \
	MOVQ   a0+0(FP), R8; \
	MOVQ   a1+8(FP), R9; \
	MOVQ   a2+16(FP), R10; \
	MOVQ   a3+24(FP), R11; \
	MOVQ   w+32(FP), SI; \
	MOVQ   k+40(FP), CX; \
	MOVQ   sums+48(FP), DI; \
	VXORPS Z0, Z0, Z0; \
	VXORPS Z1, Z1, Z1; \
	VXORPS Z2, Z2, Z2; \
	VXORPS Z3, Z3, Z3; \
	VXORPS Z4, Z4, Z4; \
	VXORPS Z5, Z5, Z5; \
	VXORPS Z6, Z6, Z6; \
	VXORPS Z7, Z7, Z7; \
	XORQ   AX, AX; \
four_loop: \
	PF; \
	LOAD(0, Z8); \
	LOAD(1, Z9); \
	VFMADD231PS (R8)(AX*4), Z8, Z0; \
	VFMADD231PS 64(R8)(AX*4), Z9, Z4; \
	VFMADD231PS (R9)(AX*4), Z8, Z1; \
	VFMADD231PS 64(R9)(AX*4), Z9, Z5; \
	VFMADD231PS (R10)(AX*4), Z8, Z2; \
	VFMADD231PS 64(R10)(AX*4), Z9, Z6; \
	VFMADD231PS (R11)(AX*4), Z8, Z3; \
	VFMADD231PS 64(R11)(AX*4), Z9, Z7; \
	ADDQ   $32, AX; \
	CMPQ   AX, CX; \
	JLT    four_loop; \
	HSUM(Z0, Y0, X0, Z4, Z10, Y10, X10, (DI)); \
	HSUM(Z1, Y1, X1, Z5, Z10, Y10, X10, 4(DI)); \
	HSUM(Z2, Y2, X2, Z6, Z10, Y10, X10, 8(DI)); \
	HSUM(Z3, Y3, X3, Z7, Z10, Y10, X10, 12(DI)); \
	VZEROUPPER; \
	RET

// func dotF32AVX512(a, w *float32, k int) float32
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	ONE_ROW(F32, PF_F32)

// func dot4F32AVX512(a0, a1, a2, a3, w *float32, k int, sums *[4]float32)
TEXT ·dot4F32AVX512(SB), NOSPLIT, $0-56
	FOUR_ROWS(F32, PF_F32)

// func dotBF16AVX512(a *float32, w *uint16, k int) float32
TEXT ·dotBF16AVX512(SB), NOSPLIT, $0-28
	ONE_ROW(BF16, PF_HALF)

// func dotF16AVX512(a *float32, w *uint16, k int) float32
TEXT ·dotF16AVX512(SB), NOSPLIT, $0-28
	ONE_ROW(F16, PF_HALF)

// func dot4BF16AVX512(a0, a1, a2, a3 *float32, w *uint16, k int, sums *[4]float32)
TEXT ·dot4BF16AVX512(SB), NOSPLIT, $0-56
	FOUR_ROWS(BF16, PF_HALF)

// func dot4F16AVX512(a0, a1, a2, a3 *float32, w *uint16, k int, sums *[4]float32)
TEXT ·dot4F16AVX512(SB), NOSPLIT, $0-56
	FOUR_ROWS(F16, PF_HALF)
