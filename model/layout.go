package model

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// Layout says how a [.., .., features] activation orders its batch and
// sequence dimensions. It costs nothing: every layer addresses its inputs
// through strided views, so no layout is converted or copied.
type Layout int

const (
	// BatchFirst is [batch, seq, features], PyTorch's batch_first=True and this
	// package's default.
	BatchFirst Layout = iota
	// SeqFirst is [seq, batch, features], PyTorch's default (batch_first=False).
	SeqFirst
)

func (l Layout) String() string {
	switch l {
	case BatchFirst:
		return "batch-first"
	case SeqFirst:
		return "seq-first"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

func (l Layout) validate(op string) error {
	if l != BatchFirst && l != SeqFirst {
		return backend.ArgumentErrorf(op, "unknown layout %d", int(l))
	}
	return nil
}

// dims returns the batch and sequence sizes of a rank-3 shape.
func (l Layout) dims(s backend.Shape) (batch, seq int) {
	return s[l.batchDim()], s[1-l.batchDim()]
}

// batchDim is the index of the batch dimension.
func (l Layout) batchDim() int {
	if l == SeqFirst {
		return 1
	}
	return 0
}

// shape is the rank-3 shape of batch x seq rows of width features.
func (l Layout) shape(batch, seq, width int) []int {
	if l == SeqFirst {
		return []int{seq, batch, width}
	}
	return []int{batch, seq, width}
}

// want describes the expected shape of an input for error messages.
func (l Layout) want(batch string, width int) string {
	if l == SeqFirst {
		return fmt.Sprintf("[seq %s %d] (seq-first)", batch, width)
	}
	return fmt.Sprintf("[%s seq %d]", batch, width)
}

// heads views heads*dim columns starting at column col of a rank-3 tensor laid
// out as l as [batch, heads, seq, dim], without copying.
func (l Layout) heads(t backend.Tensor, heads, dim, col int) (backend.Heads, error) {
	if l == BatchFirst {
		return backend.PackedHeads(t, heads, dim, col)
	}
	s := t.Shape()
	if len(s) != 3 {
		return backend.Heads{}, backend.ShapeErrorf("heads", "want a [seq batch width] tensor, got %v", s)
	}
	if heads <= 0 || dim <= 0 || col < 0 || col+heads*dim > s[2] {
		return backend.Heads{}, backend.ShapeErrorf("heads", "columns %d..%d (%d heads of %d) outside width %d of %v",
			col, col+heads*dim-1, heads, dim, s[2], s)
	}
	return backend.Heads{T: t, Batch: s[1], Heads: heads, Seq: s[0], Dim: dim,
		Offset: col, BatchStride: s[2], HeadStride: dim, SeqStride: s[1] * s[2]}, nil
}

// cols views columns [col, col+width) of every row of a rank-3 tensor as one
// matrix (GEMM rows, whatever the layout).
func cols(t backend.Tensor, col, width int) backend.Mat {
	m := backend.RowsOf(t)
	m.Offset, m.Cols = col, width
	return m
}

// rows views seq positions [0, n) of every batch of a rank-3 tensor laid out
// as l, columns [col, col+width), as GEMM rows: one matrix a batch index
// (batch-first) or one matrix of the first n*batch rows (seq-first).
func (l Layout) rows(t backend.Tensor, n, col, width int) backend.Mat {
	s := t.Shape()
	w := s[2]
	if l == SeqFirst {
		return backend.Mat{T: t, Batch: 1, Rows: n * s[1], Cols: width, Offset: col, BatchStride: n * s[1] * w, RowStride: w}
	}
	return backend.Mat{T: t, Batch: s[0], Rows: n, Cols: width, Offset: col, BatchStride: s[1] * w, RowStride: w}
}

// tail views seq positions [from, from+n) of every batch of a rank-3 tensor
// laid out as l as a batch of n-row matrices, one a batch index.
func (l Layout) tail(t backend.Tensor, from, n int) backend.Mat {
	s := t.Shape()
	w := s[2]
	if l == SeqFirst {
		return backend.Mat{T: t, Batch: s[1], Rows: n, Cols: w, Offset: from * s[1] * w, BatchStride: w, RowStride: s[1] * w}
	}
	return backend.Mat{T: t, Batch: s[0], Rows: n, Cols: w, Offset: from * w, BatchStride: s[1] * w, RowStride: w}
}
