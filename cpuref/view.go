package cpuref

import "github.com/clattn/clattn/cpuref/internal/sgemm"

// strided is a batch of row-major matrices inside a slice: element (b, i, j) of
// matrix b lies at off + b*batchStride + i*rowStride + j. A batch of 1 or a
// batch stride of 0 repeats one matrix for every batch index.
type strided struct {
	data []float32
	// half holds the elements instead of data for a float16 or bfloat16 view.
	half                        sgemm.Half
	batch, rows, cols           int
	off, batchStride, rowStride int
}

// matrix returns the slice that starts at matrix b's first element and ends
// after its last, and its leading dimension (valid for sgemm: at least cols).
func (s strided) matrix(b int) ([]float32, int) {
	if s.batch == 1 {
		b = 0
	}
	if s.rows == 0 || s.cols == 0 {
		return nil, max(s.cols, 1)
	}
	start := s.off + b*s.batchStride
	ld := s.rowStride
	if s.rows == 1 {
		ld = s.cols
	}
	return s.data[start : start+(s.rows-1)*s.rowStride+s.cols], ld
}

// halfMatrix is matrix for a half-precision view.
func (s strided) halfMatrix(b int) (sgemm.Half, int) {
	if s.batch == 1 {
		b = 0
	}
	if s.rows == 0 || s.cols == 0 {
		return sgemm.Half{}, max(s.cols, 1)
	}
	start := s.off + b*s.batchStride
	ld := s.rowStride
	if s.rows == 1 {
		ld = s.cols
	}
	return sgemm.Half{Bits: s.half.Bits[start : start+(s.rows-1)*s.rowStride+s.cols], BFloat16: s.half.BFloat16}, ld
}

// span is the range [lo, hi) of slice indices the view can touch.
func (s strided) span() (lo, hi int) {
	if s.batch == 0 || s.rows == 0 || s.cols == 0 {
		return s.off, s.off
	}
	return s.off, s.off + (s.batch-1)*s.batchStride + (s.rows-1)*s.rowStride + s.cols
}

// overlaps reports whether s and o view the same storage with overlapping
// ranges of elements.
func (s strided) overlaps(o strided) bool {
	if !sameStorage(s.data, o.data) {
		return false
	}
	slo, shi := s.span()
	olo, ohi := o.span()
	return slo < ohi && olo < shi
}

// packed returns a contiguous copy of the view (batch stride rows*cols, row
// stride cols), to read while the storage of s is written.
func (s strided) packed() strided {
	n := s.rows * s.cols
	p := strided{data: make([]float32, s.batch*n), batch: s.batch, rows: s.rows, cols: s.cols, batchStride: n, rowStride: s.cols}
	for b := range s.batch {
		for i := range s.rows {
			src := s.off + b*s.batchStride + i*s.rowStride
			copy(p.data[b*n+i*s.cols:b*n+(i+1)*s.cols], s.data[src:src+s.cols])
		}
	}
	return p
}
