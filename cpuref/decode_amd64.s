//go:build !purego

#include "textflag.h"

// The decode path's products (decode.go) for four query rows at a time with
// AVX2, FMA and F16C: the scores of the rows against a tile of keys, and the
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
