//go:build !purego

#include "textflag.h"

// FOLD leaves the sum of the lanes of Z0 ... Z3 in X0 (and clears the upper halves).
#define FOLD \
	VADDPS        Z1, Z0, Z0; \
	VADDPS        Z3, Z2, Z2; \
	VADDPS        Z2, Z0, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS        Y1, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X1; \
	VADDPS        X1, X0, X0; \
	VHADDPS       X0, X0, X0; \
	VHADDPS       X0, X0, X0; \
	VZEROUPPER

// func sumFloats(p *byte, n int) float32
// Adds the n bytes at p (a multiple of 256) as float32, one 64-byte load per
// cache line: the plain streaming read.
TEXT ·sumFloats(SB), NOSPLIT, $0-20
	MOVQ   p+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

floats:
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	ADDQ   $256, SI
	SUBQ   $256, CX
	JNZ    floats
	FOLD
	MOVSS X0, ret+16(FP)
	RET

// func sumHalves(p *byte, n int, ahead int) float32
// Adds the n bytes at p (a multiple of 256) as float16, widened to float32 by
// VCVTPH2PS from memory, 16 halves (half a line) an instruction: what a
// float16 K/V cache costs before any arithmetic. It prefetches (PREFETCHT0)
// the lines ahead bytes on as it goes, as the decode kernels prefetch their
// K/V rows; ahead 0 prefetches the lines it reads, which changes nothing.
TEXT ·sumHalves(SB), NOSPLIT, $0-28
	MOVQ      p+0(FP), SI
	MOVQ      n+8(FP), CX
	MOVQ      ahead+16(FP), DX
	VXORPS    Z0, Z0, Z0
	VXORPS    Z1, Z1, Z1
	VXORPS    Z2, Z2, Z2
	VXORPS    Z3, Z3, Z3

halves:
	PREFETCHT0 (SI)(DX*1)
	PREFETCHT0 64(SI)(DX*1)
	PREFETCHT0 128(SI)(DX*1)
	PREFETCHT0 192(SI)(DX*1)
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	VCVTPH2PS 64(SI), Z6
	VCVTPH2PS 96(SI), Z7
	VADDPS    Z4, Z0, Z0
	VADDPS    Z5, Z1, Z1
	VADDPS    Z6, Z2, Z2
	VADDPS    Z7, Z3, Z3
	VCVTPH2PS 128(SI), Z4
	VCVTPH2PS 160(SI), Z5
	VCVTPH2PS 192(SI), Z6
	VCVTPH2PS 224(SI), Z7
	VADDPS    Z4, Z0, Z0
	VADDPS    Z5, Z1, Z1
	VADDPS    Z6, Z2, Z2
	VADDPS    Z7, Z3, Z3
	ADDQ      $256, SI
	SUBQ      $256, CX
	JNZ       halves
	FOLD
	MOVSS X0, ret+24(FP)
	RET
