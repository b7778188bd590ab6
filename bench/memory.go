package bench

import (
	"fmt"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/sysmem"
)

// tensorShapes are the tensors a case allocates: inputs, outputs, weights
// and, for the layers, the model's main scratch. The fused attention's score
// matrix is not among them (flash kernels never store it).
func (c Case) tensorShapes() [][]int {
	s := c.Shape
	b, sq, sk, h, d, e, f := s.Batch, s.Seq, s.KV(), s.Heads, s.HeadDim, s.DModel, s.DFF
	rows := []int{b, sq}
	kvh := s.KVHeads()
	heads := [][]int{{b, h, sq, d}, {b, kvh, sk, d}, {b, kvh, sk, d}, {b, h, sq, d}}
	switch c.Op {
	case OpGemm:
		return [][]int{{b * sq, e}, {f, e}, {b * sq, f}}
	case OpScores, OpUnfused:
		return append(heads, []int{b, h, sq, sk})
	case OpAttention:
		return heads
	case OpDecode: // K/V counted as float32 (an f16 cache needs half), in every copy
		for range streamCopies(c) - 1 {
			heads = append(heads, []int{b, kvh, sk, d}, []int{b, kvh, sk, d})
		}
		return heads
	case OpDecoderStep: // the K/V cache, and the weights counted as float32 (host and device halves), in every copy
		var t [][]int
		for range streamCopies(c) {
			t = append(t, []int{b, kvh, sk, d}, []int{b, kvh, sk, d}, []int{(h + 2*kvh) * d, e}, []int{e, h * d},
				[]int{f, e}, []int{f, e}, []int{e, f})
		}
		return t
	case OpSoftmax:
		return [][]int{{b, h, sq, sk}, {b, h, sq, sk}}
	case OpFFN:
		return [][]int{append(rows, e), {f, e}, {f}, {e, f}, {e}, append(rows, e), append(rows, f)}
	case OpLayerNorm:
		return [][]int{append(rows, e), append(rows, e), {e}, {e}, append(rows, e)}
	case OpMHA, OpEncoder:
		// Weights twice (host and device), x, qkv, the attention and the output.
		t := [][]int{{3 * e, e}, {3 * e, e}, {e, e}, {e, e}, append(rows, e), append(rows, 3*e), append(rows, e), append(rows, e)}
		if c.Op == OpEncoder {
			t = append(t, []int{f, e}, []int{f, e}, []int{e, f}, []int{e, f}, append(rows, f), append(rows, e), append(rows, e))
		}
		return t
	}
	return nil
}

// CheckMemory refuses a case whose tensors do not fit: in deviceBytes (0 for
// unknown) and in the machine's RAM, which holds the host copy of each input
// (and every tensor of the cpu backend, and of an OpenCL CPU device). It runs
// before anything is allocated: Go dies, it does not fail, when the system
// refuses memory.
func (c Case) CheckMemory(deviceBytes int64) error {
	shapes := c.tensorShapes()
	what := fmt.Sprintf("%s %s", c.Op, c.ShapeName())
	if err := sysmem.Check(what, 0, shapes...); err != nil {
		return fmt.Errorf("%w: %v", backend.ErrTooLarge, err)
	}
	if deviceBytes > 0 {
		if err := sysmem.Check(what, int(deviceBytes/4), shapes...); err != nil {
			return fmt.Errorf("%w: %v", backend.ErrTooLarge, err)
		}
	}
	return nil
}
