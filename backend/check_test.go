package backend

import (
	"errors"
	"strings"
	"testing"
)

// shapeOnly is a Tensor with a shape and nothing else, for the checks.
type shapeOnly Shape

func (s shapeOnly) Shape() Shape   { return Shape(s) }
func (s shapeOnly) DType() DType   { return Float32 }
func (s shapeOnly) Release() error { return nil }

func TestViewChecksDoNotOverflow(t *testing.T) {
	x := shapeOnly{2, 8}
	h := Heads{T: x, Batch: 1 << 31, Heads: 1 << 31, Seq: 2, Dim: 8, BatchStride: 1 << 33}
	err := CheckHeads("Attention", "q", h)
	if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "beyond the int range") {
		t.Errorf("CheckHeads with an overflowing extent: %v", err)
	}
	m := Mat{T: x, Batch: 3, Rows: 2, Cols: 8, RowStride: 8, BatchStride: 1 << 62}
	if err := CheckMat("Gemm", "a", m); !errors.Is(err, ErrShape) {
		t.Errorf("CheckMat with an overflowing extent: %v", err)
	}
	if err := CheckMat("Gemm", "a", Mat{T: x, Batch: 1, Rows: 2, Cols: 8, RowStride: 8}); err != nil {
		t.Errorf("CheckMat of a fitting view: %v", err)
	}
}
