//go:build !purego && !noasm

package sgemm

import "golang.org/x/sys/cpu"

//go:generate go run gen.go

// Assembly micro-kernels (kernel_amd64.s): c[i*ldc+j] = alpha*Σ_p a[i*lda+p]*b[p*ldb+j] + beta*c[i*ldc+j]
// over the full tile, c not read when beta is zero.
//
//go:noescape
func kernelAVX512(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernelAVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int, blocks int)

// transposeAVX is a transposeFunc that moves 8×8 blocks with transpose8x8AVX and the ragged edges in Go.
func transposeAVX(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	full := rows &^ 7
	if blocks := cols / 8; blocks > 0 {
		for r := 0; r < full; r += 8 {
			s := src[r*lds : (r+7)*lds+blocks*8]
			d := dst[r : (blocks*8-1)*ldd+r+8]
			transpose8x8AVX(&d[0], ldd, &s[0], lds, blocks)
		}
	}
	if done := cols &^ 7; done < cols && full > 0 {
		transposeGo(dst[done*ldd:], ldd, src[done:], lds, full, cols-done)
	}
	if full < rows {
		transposeGo(dst[full:], ldd, src[full*lds:], lds, rows-full, cols)
	}
}

var avx512Kernel = &microKernel{name: "avx512", mr: 8, nr: 32,
	fn: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[7*lda+kc-1], b[(kc-1)*ldb+31], c[7*ldc+31]
		kernelAVX512(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, alpha, beta)
	},
	transpose: transposeAVX,
}

var avx2Kernel = &microKernel{name: "avx2", mr: 6, nr: 16,
	fn: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[5*lda+kc-1], b[(kc-1)*ldb+15], c[5*ldc+15]
		kernelAVX2(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, alpha, beta)
	},
	transpose: transposeAVX,
}

// supportedKernels returns the micro-kernels this CPU can run, fastest first.
func supportedKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, portableKernel)
}
