//go:build !purego

#include "textflag.h"

// The decode path's products (decode.go) for four query rows at a time with
// AVX2, FMA and F16C, or AVX-512: the scores of the rows against a tile of keys, and the
// weighted sum of a tile of values. K and V are read as float16 (converted
// eight at a time by VCVTPH2PS) or float32 straight from the cache, once.

// func scoresF16x4(q *float32, dim int, k *uint16, ldk int, n int, s *float32, lds int, scale float32)
// s[r*lds+j] = scale * sum_d q[r*dim+d]*k[j*ldk+d] for r < 4, j < n; dim a multiple of 8.
// Two keys a step (eight independent sums), then a last odd key.
TEXT ·scoresF16x4(SB), NOSPLIT, $0-60
	MOVQ q+0(FP), AX
	MOVQ dim+8(FP), BX
	SHLQ $2, BX              // q row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ k+16(FP), SI
	MOVQ ldk+24(FP), DX
	SHLQ $1, DX              // key stride in bytes
	MOVQ n+32(FP), R11
	MOVQ s+40(FP), DI
	MOVQ lds+48(FP), R9
	SHLQ $2, R9              // s row stride in bytes
	LEAQ (R9)(R9*2), R10     // 3 rows
	MOVQ dim+8(FP), R12
	SHRQ $3, R12             // 8-element steps per key
	CMPQ R11, $2
	JLT  odd

pairs:
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	MOVQ AX, R13             // q
	MOVQ SI, R14             // key j
	MOVQ R12, CX

pairloop:
	VCVTPH2PS (R14), Y4
	VCVTPH2PS (R14)(DX*1), Y5
	VMOVUPS (R13), Y0
	VMOVUPS (R13)(BX*1), Y1
	VMOVUPS (R13)(BX*2), Y2
	VMOVUPS (R13)(R8*1), Y3
	VFMADD231PS Y0, Y4, Y8
	VFMADD231PS Y1, Y4, Y9
	VFMADD231PS Y2, Y4, Y10
	VFMADD231PS Y3, Y4, Y11
	VFMADD231PS Y0, Y5, Y12
	VFMADD231PS Y1, Y5, Y13
	VFMADD231PS Y2, Y5, Y14
	VFMADD231PS Y3, Y5, Y15
	ADDQ $32, R13
	ADDQ $16, R14
	DECQ CX
	JNZ  pairloop

	VBROADCASTSS scale+56(FP), X6
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	VMULPS X6, X8, X8        // key j, rows 0..3
	VHADDPS Y13, Y12, Y12
	VHADDPS Y15, Y14, Y14
	VHADDPS Y14, Y12, Y12
	VEXTRACTF128 $1, Y12, X13
	VADDPS X13, X12, X12
	VMULPS X6, X12, X12      // key j+1
	VMOVSS X8, (DI)
	VEXTRACTPS $1, X8, (DI)(R9*1)
	VEXTRACTPS $2, X8, (DI)(R9*2)
	VEXTRACTPS $3, X8, (DI)(R10*1)
	VMOVSS X12, 4(DI)
	VEXTRACTPS $1, X12, 4(DI)(R9*1)
	VEXTRACTPS $2, X12, 4(DI)(R9*2)
	VEXTRACTPS $3, X12, 4(DI)(R10*1)
	LEAQ (SI)(DX*2), SI
	ADDQ $8, DI
	SUBQ $2, R11
	CMPQ R11, $2
	JGE  pairs

odd:
	TESTQ R11, R11
	JZ   done
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	MOVQ AX, R13
	MOVQ SI, R14
	MOVQ R12, CX

oddloop:
	VCVTPH2PS (R14), Y4
	VFMADD231PS (R13), Y4, Y8
	VFMADD231PS (R13)(BX*1), Y4, Y9
	VFMADD231PS (R13)(BX*2), Y4, Y10
	VFMADD231PS (R13)(R8*1), Y4, Y11
	ADDQ $32, R13
	ADDQ $16, R14
	DECQ CX
	JNZ  oddloop

	VBROADCASTSS scale+56(FP), X6
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	VMULPS X6, X8, X8
	VMOVSS X8, (DI)
	VEXTRACTPS $1, X8, (DI)(R9*1)
	VEXTRACTPS $2, X8, (DI)(R9*2)
	VEXTRACTPS $3, X8, (DI)(R10*1)

done:
	VZEROUPPER
	RET

// func scoresF32x4(q *float32, dim int, k *float32, ldk int, n int, s *float32, lds int, scale float32)
// s[r*lds+j] = scale * sum_d q[r*dim+d]*k[j*ldk+d] for r < 4, j < n; dim a multiple of 8.
// Two keys a step (eight independent sums), then a last odd key.
TEXT ·scoresF32x4(SB), NOSPLIT, $0-60
	MOVQ q+0(FP), AX
	MOVQ dim+8(FP), BX
	SHLQ $2, BX              // q row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ k+16(FP), SI
	MOVQ ldk+24(FP), DX
	SHLQ $2, DX              // key stride in bytes
	MOVQ n+32(FP), R11
	MOVQ s+40(FP), DI
	MOVQ lds+48(FP), R9
	SHLQ $2, R9              // s row stride in bytes
	LEAQ (R9)(R9*2), R10     // 3 rows
	MOVQ dim+8(FP), R12
	SHRQ $3, R12             // 8-element steps per key
	CMPQ R11, $2
	JLT  odd

pairs:
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	MOVQ AX, R13             // q
	MOVQ SI, R14             // key j
	MOVQ R12, CX

pairloop:
	VMOVUPS (R14), Y4
	VMOVUPS (R14)(DX*1), Y5
	VMOVUPS (R13), Y0
	VMOVUPS (R13)(BX*1), Y1
	VMOVUPS (R13)(BX*2), Y2
	VMOVUPS (R13)(R8*1), Y3
	VFMADD231PS Y0, Y4, Y8
	VFMADD231PS Y1, Y4, Y9
	VFMADD231PS Y2, Y4, Y10
	VFMADD231PS Y3, Y4, Y11
	VFMADD231PS Y0, Y5, Y12
	VFMADD231PS Y1, Y5, Y13
	VFMADD231PS Y2, Y5, Y14
	VFMADD231PS Y3, Y5, Y15
	ADDQ $32, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  pairloop

	VBROADCASTSS scale+56(FP), X6
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	VMULPS X6, X8, X8        // key j, rows 0..3
	VHADDPS Y13, Y12, Y12
	VHADDPS Y15, Y14, Y14
	VHADDPS Y14, Y12, Y12
	VEXTRACTF128 $1, Y12, X13
	VADDPS X13, X12, X12
	VMULPS X6, X12, X12      // key j+1
	VMOVSS X8, (DI)
	VEXTRACTPS $1, X8, (DI)(R9*1)
	VEXTRACTPS $2, X8, (DI)(R9*2)
	VEXTRACTPS $3, X8, (DI)(R10*1)
	VMOVSS X12, 4(DI)
	VEXTRACTPS $1, X12, 4(DI)(R9*1)
	VEXTRACTPS $2, X12, 4(DI)(R9*2)
	VEXTRACTPS $3, X12, 4(DI)(R10*1)
	LEAQ (SI)(DX*2), SI
	ADDQ $8, DI
	SUBQ $2, R11
	CMPQ R11, $2
	JGE  pairs

odd:
	TESTQ R11, R11
	JZ   done
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	MOVQ AX, R13
	MOVQ SI, R14
	MOVQ R12, CX

oddloop:
	VMOVUPS (R14), Y4
	VFMADD231PS (R13), Y4, Y8
	VFMADD231PS (R13)(BX*1), Y4, Y9
	VFMADD231PS (R13)(BX*2), Y4, Y10
	VFMADD231PS (R13)(R8*1), Y4, Y11
	ADDQ $32, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  oddloop

	VBROADCASTSS scale+56(FP), X6
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	VMULPS X6, X8, X8
	VMOVSS X8, (DI)
	VEXTRACTPS $1, X8, (DI)(R9*1)
	VEXTRACTPS $2, X8, (DI)(R9*2)
	VEXTRACTPS $3, X8, (DI)(R10*1)

done:
	VZEROUPPER
	RET

// func valuesF16x4(p *float32, ldp int, n int, v *uint16, ldv int, dim int, o *float32, ldo int)
// o[r*ldo+d] += sum_j p[r*ldp+j]*v[j*ldv+d] for r < 4, d < dim; dim a multiple of 16, n >= 1.
// Sixteen columns of the four rows stay in eight registers while the keys stream past.
TEXT ·valuesF16x4(SB), NOSPLIT, $0-64
	MOVQ p+0(FP), AX
	MOVQ ldp+8(FP), BX
	SHLQ $2, BX              // p row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ v+24(FP), SI
	MOVQ ldv+32(FP), DX
	SHLQ $1, DX              // value row stride in bytes
	MOVQ o+48(FP), DI
	MOVQ ldo+56(FP), R9
	SHLQ $2, R9              // o row stride in bytes
	LEAQ (R9)(R9*2), R10
	MOVQ dim+40(FP), R12
	SHRQ $4, R12             // 16-column blocks

block:
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	MOVQ AX, R13             // p[., j]
	MOVQ SI, R14             // v[j, block]
	MOVQ n+16(FP), CX

keyloop:
	VCVTPH2PS (R14), Y0
	VCVTPH2PS 16(R14), Y1
	VBROADCASTSS (R13), Y2
	VFMADD231PS Y0, Y2, Y8
	VFMADD231PS Y1, Y2, Y9
	VBROADCASTSS (R13)(BX*1), Y3
	VFMADD231PS Y0, Y3, Y10
	VFMADD231PS Y1, Y3, Y11
	VBROADCASTSS (R13)(BX*2), Y2
	VFMADD231PS Y0, Y2, Y12
	VFMADD231PS Y1, Y2, Y13
	VBROADCASTSS (R13)(R8*1), Y3
	VFMADD231PS Y0, Y3, Y14
	VFMADD231PS Y1, Y3, Y15
	ADDQ $4, R13
	ADDQ DX, R14
	DECQ CX
	JNZ  keyloop

	VADDPS (DI), Y8, Y8
	VMOVUPS Y8, (DI)
	VADDPS 32(DI), Y9, Y9
	VMOVUPS Y9, 32(DI)
	VADDPS (DI)(R9*1), Y10, Y10
	VMOVUPS Y10, (DI)(R9*1)
	VADDPS 32(DI)(R9*1), Y11, Y11
	VMOVUPS Y11, 32(DI)(R9*1)
	VADDPS (DI)(R9*2), Y12, Y12
	VMOVUPS Y12, (DI)(R9*2)
	VADDPS 32(DI)(R9*2), Y13, Y13
	VMOVUPS Y13, 32(DI)(R9*2)
	VADDPS (DI)(R10*1), Y14, Y14
	VMOVUPS Y14, (DI)(R10*1)
	VADDPS 32(DI)(R10*1), Y15, Y15
	VMOVUPS Y15, 32(DI)(R10*1)
	ADDQ $64, DI
	ADDQ $32, SI
	DECQ R12
	JNZ  block

	VZEROUPPER
	RET

// func valuesF32x4(p *float32, ldp int, n int, v *float32, ldv int, dim int, o *float32, ldo int)
// o[r*ldo+d] += sum_j p[r*ldp+j]*v[j*ldv+d] for r < 4, d < dim; dim a multiple of 16, n >= 1.
// Sixteen columns of the four rows stay in eight registers while the keys stream past.
TEXT ·valuesF32x4(SB), NOSPLIT, $0-64
	MOVQ p+0(FP), AX
	MOVQ ldp+8(FP), BX
	SHLQ $2, BX              // p row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ v+24(FP), SI
	MOVQ ldv+32(FP), DX
	SHLQ $2, DX              // value row stride in bytes
	MOVQ o+48(FP), DI
	MOVQ ldo+56(FP), R9
	SHLQ $2, R9              // o row stride in bytes
	LEAQ (R9)(R9*2), R10
	MOVQ dim+40(FP), R12
	SHRQ $4, R12             // 16-column blocks

block:
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	MOVQ AX, R13             // p[., j]
	MOVQ SI, R14             // v[j, block]
	MOVQ n+16(FP), CX

keyloop:
	VMOVUPS (R14), Y0
	VMOVUPS 32(R14), Y1
	VBROADCASTSS (R13), Y2
	VFMADD231PS Y0, Y2, Y8
	VFMADD231PS Y1, Y2, Y9
	VBROADCASTSS (R13)(BX*1), Y3
	VFMADD231PS Y0, Y3, Y10
	VFMADD231PS Y1, Y3, Y11
	VBROADCASTSS (R13)(BX*2), Y2
	VFMADD231PS Y0, Y2, Y12
	VFMADD231PS Y1, Y2, Y13
	VBROADCASTSS (R13)(R8*1), Y3
	VFMADD231PS Y0, Y3, Y14
	VFMADD231PS Y1, Y3, Y15
	ADDQ $4, R13
	ADDQ DX, R14
	DECQ CX
	JNZ  keyloop

	VADDPS (DI), Y8, Y8
	VMOVUPS Y8, (DI)
	VADDPS 32(DI), Y9, Y9
	VMOVUPS Y9, 32(DI)
	VADDPS (DI)(R9*1), Y10, Y10
	VMOVUPS Y10, (DI)(R9*1)
	VADDPS 32(DI)(R9*1), Y11, Y11
	VMOVUPS Y11, 32(DI)(R9*1)
	VADDPS (DI)(R9*2), Y12, Y12
	VMOVUPS Y12, (DI)(R9*2)
	VADDPS 32(DI)(R9*2), Y13, Y13
	VMOVUPS Y13, 32(DI)(R9*2)
	VADDPS (DI)(R10*1), Y14, Y14
	VMOVUPS Y14, (DI)(R10*1)
	VADDPS 32(DI)(R10*1), Y15, Y15
	VMOVUPS Y15, 32(DI)(R10*1)
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ R12
	JNZ  block

	VZEROUPPER
	RET

// ZERO_Z16_Z31 and ZERO_Z16_Z23 clear the AVX-512 kernels' accumulators.
#define ZERO_Z16_Z23 \
	VXORPS Z16, Z16, Z16 \
	VXORPS Z17, Z17, Z17 \
	VXORPS Z18, Z18, Z18 \
	VXORPS Z19, Z19, Z19 \
	VXORPS Z20, Z20, Z20 \
	VXORPS Z21, Z21, Z21 \
	VXORPS Z22, Z22, Z22 \
	VXORPS Z23, Z23, Z23

#define ZERO_Z16_Z31 \
	ZERO_Z16_Z23 \
	VXORPS Z24, Z24, Z24 \
	VXORPS Z25, Z25, Z25 \
	VXORPS Z26, Z26, Z26 \
	VXORPS Z27, Z27, Z27 \
	VXORPS Z28, Z28, Z28 \
	VXORPS Z29, Z29, Z29 \
	VXORPS Z30, Z30, Z30 \
	VXORPS Z31, Z31, Z31

// REDUCE16_STORE sums the lanes of each of the sixteen accumulators Z16-Z31
// (Z16+4k+r: key k, query row r) and stores the sums times Z6 (scale) into
// s[r*lds+k] (DI; R9 lds and R10 3*lds in bytes): a tree of shuffles and
// fifteen additions, 128-bit quarters first and then 32-bit lanes, that
// halves the vectors at each level and leaves row r's four keys in quarter r
// of Z16 (one shuffle-and-add tree in place of sixteen horizontal sums).
#define REDUCE16_STORE \
	PAIR128(0x44, 0xEE, Z17, Z16) \
	PAIR128(0x44, 0xEE, Z19, Z18) \
	PAIR128(0x44, 0xEE, Z21, Z20) \
	PAIR128(0x44, 0xEE, Z23, Z22) \
	PAIR128(0x44, 0xEE, Z25, Z24) \
	PAIR128(0x44, 0xEE, Z27, Z26) \
	PAIR128(0x44, 0xEE, Z29, Z28) \
	PAIR128(0x44, 0xEE, Z31, Z30) \
	PAIR128(0x88, 0xDD, Z18, Z16) \
	PAIR128(0x88, 0xDD, Z22, Z20) \
	PAIR128(0x88, 0xDD, Z26, Z24) \
	PAIR128(0x88, 0xDD, Z30, Z28) \
	PAIR32(0x44, 0xEE, Z20, Z16) \
	PAIR32(0x44, 0xEE, Z28, Z24) \
	PAIR32(0x88, 0xDD, Z24, Z16) \
	VMULPS Z6, Z16, Z16 \
	VMOVUPS X16, (DI) \
	VEXTRACTF32X4 $1, Z16, (DI)(R9*1) \
	VEXTRACTF32X4 $2, Z16, (DI)(R9*2) \
	VEXTRACTF32X4 $3, Z16, (DI)(R10*1)

// REDUCE4_STORE is REDUCE16_STORE for the one key of Z16-Z19 (query rows
// 0-3): the same tree, so each sum is added in the same order as there and a
// key gives the same score bits whether it is scored in a group of four or
// alone; the sums times Z6 go to s[r*lds].
#define REDUCE4_STORE \
	PAIR128(0x44, 0xEE, Z17, Z16) \
	PAIR128(0x44, 0xEE, Z19, Z18) \
	PAIR128(0x88, 0xDD, Z18, Z16) \
	PAIR32(0x44, 0xEE, Z16, Z16) \
	PAIR32(0x88, 0xDD, Z16, Z16) \
	VMULPS Z6, Z16, Z16 \
	VEXTRACTF32X4 $1, Z16, X1 \
	VEXTRACTF32X4 $2, Z16, X2 \
	VEXTRACTF32X4 $3, Z16, X3 \
	VMOVSS X16, (DI) \
	VMOVSS X1, (DI)(R9*1) \
	VMOVSS X2, (DI)(R9*2) \
	VMOVSS X3, (DI)(R10*1)

// PAIR128 sets A to the sum of the 128-bit quarters of A and B that the
// selectors lo and hi pick (VSHUFF32X4: two quarters of A, then two of B).
#define PAIR128(lo, hi, B, A) \
	VSHUFF32X4 $lo, B, A, Z0 \
	VSHUFF32X4 $hi, B, A, A \
	VADDPS Z0, A, A

// PAIR32 is PAIR128 with the 32-bit lanes of each quarter (VSHUFPS).
#define PAIR32(lo, hi, B, A) \
	VSHUFPS $lo, B, A, Z0 \
	VSHUFPS $hi, B, A, A \
	VADDPS Z0, A, A

// func scoresF16x4AVX512(q *float32, dim int, k *uint16, ldk int, n int, s *float32, lds int, scale float32, ahead *uint16)
// scoresF16x4 with AVX-512: four keys a step (sixteen independent sums of
// sixteen lanes), then the last keys one by one; dim a multiple of 16. The
// keys 32 rows ahead are prefetched as the step reads its own (prefetches
// spread over the loop keep more lines in flight than a tile's worth issued
// at once, or the hardware prefetcher alone), and so are, into L2, the rows
// of ahead (rows of ldk halves), one for each key of the step: values that a
// value kernel will read, which then stream in while this one computes.
TEXT ·scoresF16x4AVX512(SB), NOSPLIT, $0-72
	MOVQ q+0(FP), AX
	MOVQ dim+8(FP), BX
	SHLQ $2, BX              // q row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ k+16(FP), SI
	MOVQ ldk+24(FP), DX
	SHLQ $1, DX              // key stride in bytes
	LEAQ (DX)(DX*2), R12     // 3 keys
	MOVQ n+32(FP), R11
	MOVQ s+40(FP), DI
	MOVQ lds+48(FP), R9
	SHLQ $2, R9              // s row stride in bytes
	LEAQ (R9)(R9*2), R10     // 3 rows
	CMPQ R11, $4
	JLT  single

quads:
	ZERO_Z16_Z31
	MOVQ AX, R13             // q
	MOVQ SI, R14             // key j
	MOVQ DX, R15
	SHLQ $5, R15
	ADDQ R14, R15            // key j + 32, prefetched
	MOVQ SI, R9
	SUBQ k+16(FP), R9
	ADDQ ahead+64(FP), R9    // row j of ahead, prefetched into L2
	MOVQ dim+8(FP), CX
	SHRQ $4, CX              // 16-element steps

quadloop:
	PREFETCHT0 (R15)
	PREFETCHT0 (R15)(DX*1)
	PREFETCHT0 (R15)(DX*2)
	PREFETCHT0 (R15)(R12*1)
	PREFETCHT1 (R9)
	PREFETCHT1 (R9)(DX*1)
	PREFETCHT1 (R9)(DX*2)
	PREFETCHT1 (R9)(R12*1)
	ADDQ $32, R15
	ADDQ $32, R9
	VMOVUPS (R13), Z0
	VMOVUPS (R13)(BX*1), Z1
	VMOVUPS (R13)(BX*2), Z2
	VMOVUPS (R13)(R8*1), Z3
	VCVTPH2PS (R14), Z4
	VCVTPH2PS (R14)(DX*1), Z5
	VCVTPH2PS (R14)(DX*2), Z6
	VCVTPH2PS (R14)(R12*1), Z7
	VFMADD231PS Z0, Z4, Z16
	VFMADD231PS Z1, Z4, Z17
	VFMADD231PS Z2, Z4, Z18
	VFMADD231PS Z3, Z4, Z19
	VFMADD231PS Z0, Z5, Z20
	VFMADD231PS Z1, Z5, Z21
	VFMADD231PS Z2, Z5, Z22
	VFMADD231PS Z3, Z5, Z23
	VFMADD231PS Z0, Z6, Z24
	VFMADD231PS Z1, Z6, Z25
	VFMADD231PS Z2, Z6, Z26
	VFMADD231PS Z3, Z6, Z27
	VFMADD231PS Z0, Z7, Z28
	VFMADD231PS Z1, Z7, Z29
	VFMADD231PS Z2, Z7, Z30
	VFMADD231PS Z3, Z7, Z31
	ADDQ $64, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  quadloop
	MOVQ lds+48(FP), R9
	SHLQ $2, R9              // s row stride in bytes, again

	VBROADCASTSS scale+56(FP), Z6
	REDUCE16_STORE
	LEAQ (SI)(DX*4), SI
	ADDQ $16, DI
	SUBQ $4, R11
	CMPQ R11, $4
	JGE  quads

single:
	TESTQ R11, R11
	JZ   done
	VXORPS Z16, Z16, Z16
	VXORPS Z17, Z17, Z17
	VXORPS Z18, Z18, Z18
	VXORPS Z19, Z19, Z19
	MOVQ AX, R13
	MOVQ SI, R14
	MOVQ dim+8(FP), CX
	SHRQ $4, CX

singleloop:
	VCVTPH2PS (R14), Z4
	VFMADD231PS (R13), Z4, Z16
	VFMADD231PS (R13)(BX*1), Z4, Z17
	VFMADD231PS (R13)(BX*2), Z4, Z18
	VFMADD231PS (R13)(R8*1), Z4, Z19
	ADDQ $64, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  singleloop

	VBROADCASTSS scale+56(FP), Z6
	REDUCE4_STORE
	ADDQ DX, SI
	ADDQ $4, DI
	DECQ R11
	JMP  single

done:
	VZEROUPPER
	RET

// OCTO_CHUNK(c) multiply-adds dims 8c ... 8c+7 of the eight keys (two to a
// register: key 2p in lanes 0-7 and key 2p+1 in lanes 8-15 of Z4+p) by the
// same dims of the four query rows (Z0-Z3, each eight values twice) into
// Z16+4p+r.
#define OCTO_CHUNK(c) \
	VBROADCASTF32X8 (c*32)(R13), Z0 \
	VBROADCASTF32X8 (c*32)(R13)(SI*1), Z1 \
	VBROADCASTF32X8 (c*32)(R13)(SI*2), Z2 \
	VBROADCASTF32X8 (c*32)(R13)(R8*1), Z3 \
	VMOVDQU (c*16)(R14), X4 \
	VINSERTI128 $1, (c*16)(R15), Y4, Y4 \
	VCVTPH2PS Y4, Z4 \
	VMOVDQU (c*16)(R14)(DX*2), X5 \
	VINSERTI128 $1, (c*16)(R14)(R12*1), Y5, Y5 \
	VCVTPH2PS Y5, Z5 \
	VMOVDQU (c*16)(R14)(DX*4), X6 \
	VINSERTI128 $1, (c*16)(R15)(DX*4), Y6, Y6 \
	VCVTPH2PS Y6, Z6 \
	VMOVDQU (c*16)(R14)(R12*2), X7 \
	VINSERTI128 $1, (c*16)(R15)(R12*2), Y7, Y7 \
	VCVTPH2PS Y7, Z7 \
	VFMADD231PS Z0, Z4, Z16 \
	VFMADD231PS Z1, Z4, Z17 \
	VFMADD231PS Z2, Z4, Z18 \
	VFMADD231PS Z3, Z4, Z19 \
	VFMADD231PS Z0, Z5, Z20 \
	VFMADD231PS Z1, Z5, Z21 \
	VFMADD231PS Z2, Z5, Z22 \
	VFMADD231PS Z3, Z5, Z23 \
	VFMADD231PS Z0, Z6, Z24 \
	VFMADD231PS Z1, Z6, Z25 \
	VFMADD231PS Z2, Z6, Z26 \
	VFMADD231PS Z3, Z6, Z27 \
	VFMADD231PS Z0, Z7, Z28 \
	VFMADD231PS Z1, Z7, Z29 \
	VFMADD231PS Z2, Z7, Z30 \
	VFMADD231PS Z3, Z7, Z31

// PREFETCH8 asks (kind) for the line at P of eight rows DX bytes apart, P
// being row 0 and Q row 1 (R12 = 3*DX).
#define PREFETCH8(kind, P, Q) \
	kind (P) \
	kind (Q) \
	kind (P)(DX*2) \
	kind (P)(R12*1) \
	kind (P)(DX*4) \
	kind (Q)(DX*4) \
	kind (P)(R12*2) \
	kind (Q)(R12*2)

// octoOrder puts the sums the reduction of scoresF16x8AVX512 leaves (quarter
// i: row r key i, row r key i+4, row r+1 key i, row r+1 key i+4) in key order,
// row r's eight keys and then row r+1's.
DATA octoOrder<>+0(SB)/4, $0
DATA octoOrder<>+4(SB)/4, $4
DATA octoOrder<>+8(SB)/4, $8
DATA octoOrder<>+12(SB)/4, $12
DATA octoOrder<>+16(SB)/4, $1
DATA octoOrder<>+20(SB)/4, $5
DATA octoOrder<>+24(SB)/4, $9
DATA octoOrder<>+28(SB)/4, $13
DATA octoOrder<>+32(SB)/4, $2
DATA octoOrder<>+36(SB)/4, $6
DATA octoOrder<>+40(SB)/4, $10
DATA octoOrder<>+44(SB)/4, $14
DATA octoOrder<>+48(SB)/4, $3
DATA octoOrder<>+52(SB)/4, $7
DATA octoOrder<>+56(SB)/4, $11
DATA octoOrder<>+60(SB)/4, $15
GLOBL octoOrder<>(SB), RODATA, $64

// func scoresF16x8AVX512(q *float32, dim int, k *uint16, ldk int, n int, s *float32, lds int, scale float32, ahead *uint16)
// scoresF16x4 eight keys a step, for n a multiple of 8 and dim of 32. Two keys
// share a register, eight lanes each, so that the sixteen sums of a step hold
// thirty-two dot products, and one tree of shuffles and adds, a level shorter
// than REDUCE16_STORE's per key, finishes them (half its work per key). Each
// key's sum is added in an order that depends on nothing but the key and the
// query row, whatever keys share its step. Every 32 dims the step prefetches
// the line of each of its keys 32 rows ahead, and into L2 the line of each
// matching row of ahead, as scoresF16x4AVX512 does.
TEXT ·scoresF16x8AVX512(SB), NOSPLIT, $0-72
	MOVQ k+16(FP), R14
	MOVQ ldk+24(FP), DX
	SHLQ $1, DX              // key stride in bytes
	LEAQ (DX)(DX*2), R12     // 3 keys
	MOVQ n+32(FP), R11
	MOVQ s+40(FP), DI
	SHRQ $3, R11
	JZ   octoDone

octos:
	ZERO_Z16_Z31
	MOVQ q+0(FP), R13
	MOVQ dim+8(FP), SI
	SHLQ $2, SI              // q row stride in bytes
	LEAQ (SI)(SI*2), R8      // 3 rows
	LEAQ (R14)(DX*1), R15    // key 1
	MOVQ DX, R9
	SHLQ $5, R9
	ADDQ R14, R9             // key 32, prefetched into L1
	LEAQ (R9)(DX*1), R10
	MOVQ R14, AX
	SUBQ k+16(FP), AX
	ADDQ ahead+64(FP), AX    // the matching row of ahead, prefetched into L2
	LEAQ (AX)(DX*1), BX
	MOVQ dim+8(FP), CX
	SHRQ $5, CX              // 32 dims (a line of each key) a step

octoloop:
	PREFETCH8(PREFETCHT0, R9, R10)
	PREFETCH8(PREFETCHT1, AX, BX)
	OCTO_CHUNK(0)
	OCTO_CHUNK(1)
	OCTO_CHUNK(2)
	OCTO_CHUNK(3)
	ADDQ $128, R13
	ADDQ $64, R14
	ADDQ $64, R15
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  octoloop

	// Quarters first: row r's keys 0-3, then 4-7, a quarter each.
	PAIR128(0x88, 0xDD, Z20, Z16)
	PAIR128(0x88, 0xDD, Z28, Z24)
	PAIR128(0x88, 0xDD, Z21, Z17)
	PAIR128(0x88, 0xDD, Z29, Z25)
	PAIR128(0x88, 0xDD, Z22, Z18)
	PAIR128(0x88, 0xDD, Z30, Z26)
	PAIR128(0x88, 0xDD, Z23, Z19)
	PAIR128(0x88, 0xDD, Z31, Z27)
	// Then lanes: quarter i holds row r's keys i and i+4, two sums each,
	PAIR32(0x88, 0xDD, Z24, Z16)
	PAIR32(0x88, 0xDD, Z25, Z17)
	PAIR32(0x88, 0xDD, Z26, Z18)
	PAIR32(0x88, 0xDD, Z27, Z19)
	// and rows r and r+1 together, one sum each.
	PAIR32(0x88, 0xDD, Z17, Z16)
	PAIR32(0x88, 0xDD, Z19, Z18)
	VMOVDQU32 octoOrder<>(SB), Z4
	VPERMPS Z16, Z4, Z16
	VPERMPS Z18, Z4, Z18
	VBROADCASTSS scale+56(FP), Z5
	VMULPS Z5, Z16, Z16
	VMULPS Z5, Z18, Z18
	MOVQ lds+48(FP), CX
	SHLQ $2, CX              // s row stride in bytes
	LEAQ (CX)(CX*2), R10
	VMOVUPS Y16, (DI)
	VEXTRACTF32X8 $1, Z16, (DI)(CX*1)
	VMOVUPS Y18, (DI)(CX*2)
	VEXTRACTF32X8 $1, Z18, (DI)(R10*1)
	MOVQ dim+8(FP), CX
	SHLQ $1, CX
	SUBQ CX, R14             // back to the step's key 0
	LEAQ (R14)(DX*8), R14    // the next step's
	ADDQ $32, DI
	DECQ R11
	JNZ  octos

octoDone:
	VZEROUPPER
	RET

// func scoresF32x4AVX512(q *float32, dim int, k *float32, ldk int, n int, s *float32, lds int, scale float32)
// scoresF32x4 with AVX-512: four keys a step (sixteen independent sums of
// sixteen lanes), then the last keys one by one; dim a multiple of 16. Keys
// 32 rows ahead are prefetched as in scoresF16x4AVX512.
TEXT ·scoresF32x4AVX512(SB), NOSPLIT, $0-60
	MOVQ q+0(FP), AX
	MOVQ dim+8(FP), BX
	SHLQ $2, BX              // q row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ k+16(FP), SI
	MOVQ ldk+24(FP), DX
	SHLQ $2, DX              // key stride in bytes
	LEAQ (DX)(DX*2), R12     // 3 keys
	MOVQ n+32(FP), R11
	MOVQ s+40(FP), DI
	MOVQ lds+48(FP), R9
	SHLQ $2, R9              // s row stride in bytes
	LEAQ (R9)(R9*2), R10     // 3 rows
	CMPQ R11, $4
	JLT  single

quads:
	ZERO_Z16_Z31
	MOVQ AX, R13             // q
	MOVQ SI, R14             // key j
	MOVQ DX, R15
	SHLQ $5, R15
	ADDQ R14, R15            // key j + 32, prefetched
	MOVQ dim+8(FP), CX
	SHRQ $4, CX              // 16-element steps

quadloop:
	PREFETCHT0 (R15)
	PREFETCHT0 (R15)(DX*1)
	PREFETCHT0 (R15)(DX*2)
	PREFETCHT0 (R15)(R12*1)
	ADDQ $64, R15
	VMOVUPS (R13), Z0
	VMOVUPS (R13)(BX*1), Z1
	VMOVUPS (R13)(BX*2), Z2
	VMOVUPS (R13)(R8*1), Z3
	VMOVUPS (R14), Z4
	VMOVUPS (R14)(DX*1), Z5
	VMOVUPS (R14)(DX*2), Z6
	VMOVUPS (R14)(R12*1), Z7
	VFMADD231PS Z0, Z4, Z16
	VFMADD231PS Z1, Z4, Z17
	VFMADD231PS Z2, Z4, Z18
	VFMADD231PS Z3, Z4, Z19
	VFMADD231PS Z0, Z5, Z20
	VFMADD231PS Z1, Z5, Z21
	VFMADD231PS Z2, Z5, Z22
	VFMADD231PS Z3, Z5, Z23
	VFMADD231PS Z0, Z6, Z24
	VFMADD231PS Z1, Z6, Z25
	VFMADD231PS Z2, Z6, Z26
	VFMADD231PS Z3, Z6, Z27
	VFMADD231PS Z0, Z7, Z28
	VFMADD231PS Z1, Z7, Z29
	VFMADD231PS Z2, Z7, Z30
	VFMADD231PS Z3, Z7, Z31
	ADDQ $64, R13
	ADDQ $64, R14
	DECQ CX
	JNZ  quadloop

	VBROADCASTSS scale+56(FP), Z6
	REDUCE16_STORE
	LEAQ (SI)(DX*4), SI
	ADDQ $16, DI
	SUBQ $4, R11
	CMPQ R11, $4
	JGE  quads

single:
	TESTQ R11, R11
	JZ   done
	VXORPS Z16, Z16, Z16
	VXORPS Z17, Z17, Z17
	VXORPS Z18, Z18, Z18
	VXORPS Z19, Z19, Z19
	MOVQ AX, R13
	MOVQ SI, R14
	MOVQ dim+8(FP), CX
	SHRQ $4, CX

singleloop:
	VMOVUPS (R14), Z4
	VFMADD231PS (R13), Z4, Z16
	VFMADD231PS (R13)(BX*1), Z4, Z17
	VFMADD231PS (R13)(BX*2), Z4, Z18
	VFMADD231PS (R13)(R8*1), Z4, Z19
	ADDQ $64, R13
	ADDQ $64, R14
	DECQ CX
	JNZ  singleloop

	VBROADCASTSS scale+56(FP), Z6
	REDUCE4_STORE
	ADDQ DX, SI
	ADDQ $4, DI
	DECQ R11
	JMP  single

done:
	VZEROUPPER
	RET

// ADD_TO_ROW2 and ADD_TO_ROW4 add accumulators a, b (, c, d) to the 32 (64)
// floats of an output row at base and store them there.
#define ADD_TO_ROW2(base, a, b) \
	VADDPS base, a, a \
	VMOVUPS a, base \
	VADDPS 64 base, b, b \
	VMOVUPS b, 64 base

#define ADD_TO_ROW4(base, a, b, c, d) \
	ADD_TO_ROW2(base, a, b) \
	VADDPS 128 base, c, c \
	VMOVUPS c, 128 base \
	VADDPS 192 base, d, d \
	VMOVUPS d, 192 base

// VALUES_START(v, ahead, n) sets up a column block of valuesF16x4AVX512
// (its arguments v, ahead and n) after its accumulators are zeroed: R13 the
// weights of key 0, R14 its value row at the block's columns, R15 the
// prefetch distance (32 rows), R11 zero where the block starts a run of 128
// columns (then it prefetches), R9 the matching row of ahead, CX the keys.
#define VALUES_START(v, ahead, n) \
	MOVQ AX, R13 \
	MOVQ SI, R14 \
	MOVQ DX, R15 \
	SHLQ $5, R15 \
	MOVQ SI, R11 \
	SUBQ v, R11 \
	ANDQ $255, R11 \
	MOVQ SI, R9 \
	SUBQ v, R9 \
	ADDQ ahead, R9 \
	MOVQ n, CX

// VALUES_PREFETCH asks, in a block that starts a run of 128 columns, for
// those columns (four lines) of the value row 32 keys on, and into L2 for
// the same lines of the key's row of ahead; the run's other blocks then read
// the cache.
#define VALUES_PREFETCH(skip) \
	TESTQ R11, R11 \
	JNZ   skip \
	PREFETCHT0 (R14)(R15*1) \
	PREFETCHT0 64(R14)(R15*1) \
	PREFETCHT0 128(R14)(R15*1) \
	PREFETCHT0 192(R14)(R15*1) \
	PREFETCHT1 (R9) \
	PREFETCHT1 64(R9) \
	PREFETCHT1 128(R9) \
	PREFETCHT1 192(R9)

// func valuesF16x4AVX512(p *float32, ldp int, n int, v *uint16, ldv int, dim int, o *float32, ldo int, ahead *uint16)
// valuesF16x4 with AVX-512: 64 columns of the four rows in sixteen registers
// at a time while the keys stream past (a head dim of 64 reads each value row
// in one pass), then, where dim is an odd multiple of 32, the last 32 in
// eight; n >= 1. A block that starts a run of 128 columns prefetches the
// rows 32 ahead at those columns (four lines), so that the tile streams from
// memory once, row after row, and the blocks after it read the cache (a line
// per block and row would be several strided streams); it also prefetches
// into L2 the same lines of the rows of ahead (rows of ldv halves), one for
// each key: the next tile's keys, as in scoresF16x4AVX512. Each output is the
// same sum, in key order, whatever the block width.
TEXT ·valuesF16x4AVX512(SB), NOSPLIT, $0-72
	MOVQ p+0(FP), AX
	MOVQ ldp+8(FP), BX
	SHLQ $2, BX              // p row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ v+24(FP), SI
	MOVQ ldv+32(FP), DX
	SHLQ $1, DX              // value row stride in bytes
	MOVQ o+48(FP), DI
	MOVQ dim+40(FP), R12     // columns left

block64:
	CMPQ R12, $64
	JLT  block32
	ZERO_Z16_Z31
	VALUES_START(v+24(FP), ahead+64(FP), n+16(FP))

keyloop64:
	VALUES_PREFETCH(fetched64)

fetched64:
	VCVTPH2PS (R14), Z0
	VCVTPH2PS 32(R14), Z1
	VCVTPH2PS 64(R14), Z2
	VCVTPH2PS 96(R14), Z3
	VBROADCASTSS (R13), Z4
	VFMADD231PS Z0, Z4, Z16
	VFMADD231PS Z1, Z4, Z17
	VFMADD231PS Z2, Z4, Z18
	VFMADD231PS Z3, Z4, Z19
	VBROADCASTSS (R13)(BX*1), Z5
	VFMADD231PS Z0, Z5, Z20
	VFMADD231PS Z1, Z5, Z21
	VFMADD231PS Z2, Z5, Z22
	VFMADD231PS Z3, Z5, Z23
	VBROADCASTSS (R13)(BX*2), Z4
	VFMADD231PS Z0, Z4, Z24
	VFMADD231PS Z1, Z4, Z25
	VFMADD231PS Z2, Z4, Z26
	VFMADD231PS Z3, Z4, Z27
	VBROADCASTSS (R13)(R8*1), Z5
	VFMADD231PS Z0, Z5, Z28
	VFMADD231PS Z1, Z5, Z29
	VFMADD231PS Z2, Z5, Z30
	VFMADD231PS Z3, Z5, Z31
	ADDQ $4, R13
	ADDQ DX, R14
	ADDQ DX, R9
	DECQ CX
	JNZ  keyloop64
	MOVQ ldo+56(FP), R9
	SHLQ $2, R9              // o row stride in bytes
	LEAQ (R9)(R9*2), R10
	ADD_TO_ROW4((DI), Z16, Z17, Z18, Z19)
	ADD_TO_ROW4((DI)(R9*1), Z20, Z21, Z22, Z23)
	ADD_TO_ROW4((DI)(R9*2), Z24, Z25, Z26, Z27)
	ADD_TO_ROW4((DI)(R10*1), Z28, Z29, Z30, Z31)
	ADDQ $256, DI
	ADDQ $128, SI
	SUBQ $64, R12
	JMP  block64

block32:
	TESTQ R12, R12
	JZ   valuesDone
	ZERO_Z16_Z23
	VALUES_START(v+24(FP), ahead+64(FP), n+16(FP))

keyloop32:
	VALUES_PREFETCH(fetched32)

fetched32:
	VCVTPH2PS (R14), Z0
	VCVTPH2PS 32(R14), Z1
	VBROADCASTSS (R13), Z2
	VFMADD231PS Z0, Z2, Z16
	VFMADD231PS Z1, Z2, Z17
	VBROADCASTSS (R13)(BX*1), Z3
	VFMADD231PS Z0, Z3, Z18
	VFMADD231PS Z1, Z3, Z19
	VBROADCASTSS (R13)(BX*2), Z2
	VFMADD231PS Z0, Z2, Z20
	VFMADD231PS Z1, Z2, Z21
	VBROADCASTSS (R13)(R8*1), Z3
	VFMADD231PS Z0, Z3, Z22
	VFMADD231PS Z1, Z3, Z23
	ADDQ $4, R13
	ADDQ DX, R14
	ADDQ DX, R9
	DECQ CX
	JNZ  keyloop32
	MOVQ ldo+56(FP), R9
	SHLQ $2, R9              // o row stride in bytes
	LEAQ (R9)(R9*2), R10
	ADD_TO_ROW2((DI), Z16, Z17)
	ADD_TO_ROW2((DI)(R9*1), Z18, Z19)
	ADD_TO_ROW2((DI)(R9*2), Z20, Z21)
	ADD_TO_ROW2((DI)(R10*1), Z22, Z23)

valuesDone:
	VZEROUPPER
	RET

// func valuesF32x4AVX512(p *float32, ldp int, n int, v *float32, ldv int, dim int, o *float32, ldo int)
// valuesF32x4 with AVX-512: thirty-two columns of the four rows in eight
// registers while the keys stream past; dim a multiple of 32, n >= 1. The
// first of every four column blocks prefetches the rows 32 ahead whole (eight
// lines, 128 columns), as in valuesF16x4AVX512.
TEXT ·valuesF32x4AVX512(SB), NOSPLIT, $0-64
	MOVQ p+0(FP), AX
	MOVQ ldp+8(FP), BX
	SHLQ $2, BX              // p row stride in bytes
	LEAQ (BX)(BX*2), R8      // 3 rows
	MOVQ v+24(FP), SI
	MOVQ ldv+32(FP), DX
	SHLQ $2, DX              // value row stride in bytes
	MOVQ o+48(FP), DI
	MOVQ ldo+56(FP), R9
	SHLQ $2, R9              // o row stride in bytes
	LEAQ (R9)(R9*2), R10
	MOVQ dim+40(FP), R12
	SHRQ $5, R12             // 32-column blocks

block:
	ZERO_Z16_Z23
	MOVQ AX, R13             // p[., j]
	MOVQ SI, R14             // v[j, block]
	MOVQ DX, R15
	SHLQ $5, R15             // 32 rows: the prefetch distance
	MOVQ dim+40(FP), R11
	SHRQ $5, R11
	SUBQ R12, R11
	ANDQ $3, R11             // zero: this block prefetches the row's next eight lines
	MOVQ n+16(FP), CX

keyloop:
	TESTQ R11, R11
	JNZ   fetched
	PREFETCHT0 (R14)(R15*1)
	PREFETCHT0 64(R14)(R15*1)
	PREFETCHT0 128(R14)(R15*1)
	PREFETCHT0 192(R14)(R15*1)
	PREFETCHT0 256(R14)(R15*1)
	PREFETCHT0 320(R14)(R15*1)
	PREFETCHT0 384(R14)(R15*1)
	PREFETCHT0 448(R14)(R15*1)

fetched:
	VMOVUPS (R14), Z0
	VMOVUPS 64(R14), Z1
	VBROADCASTSS (R13), Z2
	VFMADD231PS Z0, Z2, Z16
	VFMADD231PS Z1, Z2, Z17
	VBROADCASTSS (R13)(BX*1), Z3
	VFMADD231PS Z0, Z3, Z18
	VFMADD231PS Z1, Z3, Z19
	VBROADCASTSS (R13)(BX*2), Z2
	VFMADD231PS Z0, Z2, Z20
	VFMADD231PS Z1, Z2, Z21
	VBROADCASTSS (R13)(R8*1), Z3
	VFMADD231PS Z0, Z3, Z22
	VFMADD231PS Z1, Z3, Z23
	ADDQ $4, R13
	ADDQ DX, R14
	DECQ CX
	JNZ  keyloop

	ADD_TO_ROW2((DI), Z16, Z17)
	ADD_TO_ROW2((DI)(R9*1), Z18, Z19)
	ADD_TO_ROW2((DI)(R9*2), Z20, Z21)
	ADD_TO_ROW2((DI)(R10*1), Z22, Z23)
	ADDQ $128, DI
	ADDQ $128, SI
	DECQ R12
	JNZ  block

	VZEROUPPER
	RET

// func prefetchRows(p *byte, stride int, rows int, lines int)
// PREFETCHT0 of lines cache lines from each of rows rows, stride bytes apart.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ rows+16(FP), CX
	TESTQ CX, CX
	JZ   pfdone

pfrow:
	MOVQ SI, DI
	MOVQ lines+24(FP), BX

pfline:
	PREFETCHT0 (DI)
	ADDQ $64, DI
	DECQ BX
	JNZ  pfline
	ADDQ DX, SI
	DECQ CX
	JNZ  pfrow

pfdone:
	RET
