package sgemm

// microKernel computes one mr×nr tile of C from packed panels.
type microKernel struct {
	name   string
	mr, nr int
	// fn sets c[i*ldc+j] = alpha*Σ_p a[i*lda+p]*b[p*ldb+j] + beta*c[i*ldc+j] for the full mr×nr tile,
	// for p in [0, kc); when beta is zero c is not read. A is a packed micro-panel (lda = kc) or mr rows
	// of A itself, B a packed panel (ldb = nr) or nr columns of B itself.
	fn func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
	// transpose packs transposed operands.
	transpose transposeFunc
}

// kernel is the micro-kernel Gemm uses, the fastest this CPU supports.
var kernel = supportedKernels()[0]

// portableKernel is the pure-Go micro-kernel, used where no assembly kernel applies.
var portableKernel = &microKernel{name: "portable", mr: 4, nr: 4, fn: kernelPortable, transpose: transposeGo}

// kernelPortable is the 4×4 Go micro-kernel. Its sixteen accumulators are few enough for the compiler
// to keep most of them in registers.
func kernelPortable(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	var c0, c1, c2, c3 [4]float32
	a0s, a1s, a2s, a3s := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
	b = b[:(kc-1)*ldb+4]
	for p := range kc {
		bp := (*[4]float32)(b[p*ldb : p*ldb+4])
		a0 := a0s[p]
		c0[0] += a0 * bp[0]
		c0[1] += a0 * bp[1]
		c0[2] += a0 * bp[2]
		c0[3] += a0 * bp[3]
		a1 := a1s[p]
		c1[0] += a1 * bp[0]
		c1[1] += a1 * bp[1]
		c1[2] += a1 * bp[2]
		c1[3] += a1 * bp[3]
		a2 := a2s[p]
		c2[0] += a2 * bp[0]
		c2[1] += a2 * bp[1]
		c2[2] += a2 * bp[2]
		c2[3] += a2 * bp[3]
		a3 := a3s[p]
		c3[0] += a3 * bp[0]
		c3[1] += a3 * bp[1]
		c3[2] += a3 * bp[2]
		c3[3] += a3 * bp[3]
	}
	storeRow(c[0*ldc:0*ldc+4], alpha, beta, &c0)
	storeRow(c[1*ldc:1*ldc+4], alpha, beta, &c1)
	storeRow(c[2*ldc:2*ldc+4], alpha, beta, &c2)
	storeRow(c[3*ldc:3*ldc+4], alpha, beta, &c3)
}

// storeRow sets row = alpha*acc + beta*row, not reading row when beta is zero.
func storeRow(row []float32, alpha, beta float32, acc *[4]float32) {
	row = row[:4]
	for j, v := range acc {
		if beta == 0 {
			row[j] = alpha * v
		} else {
			row[j] = float32(alpha*v) + float32(beta*row[j])
		}
	}
}
