package backend

import (
	"fmt"
	"math"
	"reflect"
)

// Shape checks shared by every backend, so that a bad call fails the same way,
// with the same message, on the CPU and on any OpenCL device.

func present(t Tensor) bool { return t != nil }

// sameTensor reports whether a and b are the same tensor (both present).
// Tensors of a type that cannot be compared are never the same.
func sameTensor(a, b Tensor) bool {
	if a == nil || b == nil {
		return false
	}
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// operand is a named tensor argument of an operation.
type operand struct {
	name string
	t    Tensor
}

// refuseAliases fails where the output tensor out is the tensor of one of the
// inputs. The operations that call it (Gemm's A and B, Attention, Scores,
// AttendValues, the weights of LayerNorm and FeedForward) read inputs while
// other work-items of the device write the output, so an aliased call would
// give an answer that depends on scheduling; they refuse it on every backend
// alike (see "Aliasing" in package backend's doc).
func refuseAliases(op, outName string, out Tensor, inputs ...operand) error {
	for _, in := range inputs {
		if sameTensor(out, in.t) {
			return ArgumentErrorf(op, "%s and %s are the same %v tensor: %s cannot write an input (give another output tensor)",
				outName, in.name, out.Shape(), op)
		}
	}
	return nil
}

// CheckMat verifies that every element of m lies inside its tensor.
func CheckMat(op, name string, m Mat) error {
	if !present(m.T) {
		return NoTensorError(op, name)
	}
	if m.Batch < 0 || m.Rows < 0 || m.Cols < 0 || m.Offset < 0 || m.BatchStride < 0 || m.RowStride < 0 {
		return ShapeErrorf(op, "%s view has a negative size, offset or stride: %+v", name, describeMat(m))
	}
	if m.Batch == 0 || m.Rows == 0 || m.Cols == 0 {
		return nil
	}
	if m.RowStride < m.Cols && m.Rows > 1 {
		return ShapeErrorf(op, "%s row stride %d < %d columns", name, m.RowStride, m.Cols)
	}
	last, ok := lastIndex(m.Offset, [][2]int{{m.Batch - 1, m.BatchStride}, {m.Rows - 1, m.RowStride}, {m.Cols - 1, 1}})
	if n := m.T.Shape().Numel(); !ok || last >= n {
		return ShapeErrorf(op, "%s view %s reaches element %s of a %v tensor (%d elements)",
			name, describeMat(m), reach(last, ok), m.T.Shape(), n)
	}
	return nil
}

// lastIndex is offset + sum of count*stride over terms (all >= 0), the last
// element a view reaches; ok is false where that overflows an int (and so lies
// outside any tensor).
func lastIndex(offset int, terms [][2]int) (last int, ok bool) {
	last = offset
	for _, t := range terms {
		count, stride := t[0], t[1]
		if stride != 0 && count > (math.MaxInt-last)/stride {
			return 0, false
		}
		last += count * stride
	}
	return last, true
}

// reach names the last element of a view for a message.
func reach(last int, ok bool) string {
	if !ok {
		return "beyond the int range"
	}
	return fmt.Sprint(last)
}

func describeMat(m Mat) string {
	return fmt.Sprintf("batch %d x %dx%d (offset %d, strides %d/%d)", m.Batch, m.Rows, m.Cols, m.Offset, m.BatchStride, m.RowStride)
}

// GemmDims are the sizes of one Gemm call: Batch products of [M,K] x [K,N].
type GemmDims struct{ Batch, M, N, K int }

// CheckGemm validates a Gemm call and returns its sizes. The b operand (the
// weights) may be float32, float16 or bfloat16; every other one is float32.
func CheckGemm(dst, a, b Mat, opt GemmOptions) (GemmDims, error) {
	const op = "Gemm"
	for _, v := range []struct {
		name string
		m    Mat
	}{{"dst", dst}, {"a", a}, {"b", b}} {
		if err := CheckMat(op, v.name, v.m); err != nil {
			return GemmDims{}, err
		}
	}
	m, k := a.Rows, a.Cols
	if opt.TransA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if opt.TransB {
		kb, n = n, kb
	}
	if k != kb || dst.Rows != m || dst.Cols != n {
		return GemmDims{}, ShapeErrorf(op, "op(a) is %dx%d, op(b) is %dx%d, dst is %dx%d (transA=%v transB=%v)",
			m, k, kb, n, dst.Rows, dst.Cols, opt.TransA, opt.TransB)
	}
	for _, v := range []struct {
		name string
		m    Mat
	}{{"a", a}, {"b", b}} {
		if v.m.Batch != dst.Batch && !(v.m.Batch == 1 || v.m.BatchStride == 0) {
			return GemmDims{}, ShapeErrorf(op, "%s has batch %d, dst has batch %d", v.name, v.m.Batch, dst.Batch)
		}
	}
	if opt.Bias != nil {
		if s := opt.Bias.Shape(); s.Numel() != n || len(s) != 1 {
			return GemmDims{}, ShapeErrorf(op, "bias is %v, want [%d]", s, n)
		}
	}
	if opt.Residual != nil {
		r := *opt.Residual
		if err := CheckMat(op, "residual", r); err != nil {
			return GemmDims{}, err
		}
		if r.Batch != dst.Batch || r.Rows != m || r.Cols != n {
			return GemmDims{}, ShapeErrorf(op, "residual is batch %d x %dx%d, dst is batch %d x %dx%d",
				r.Batch, r.Rows, r.Cols, dst.Batch, m, n)
		}
	}
	if err := checkActivation(op, opt.Activation); err != nil {
		return GemmDims{}, err
	}
	if err := refuseAliases(op, "dst", dst.T, operand{"a", a.T}, operand{"b", b.T}, operand{"bias", opt.Bias}); err != nil {
		return GemmDims{}, err
	}
	if r := opt.Residual; r != nil && sameTensor(r.T, dst.T) && !sameView(*r, dst) {
		return GemmDims{}, ArgumentErrorf(op, "residual %s and dst %s are different views of one tensor: the residual may be dst itself or another tensor",
			describeMat(*r), describeMat(dst))
	}
	var res Tensor
	if opt.Residual != nil {
		res = opt.Residual.T
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst.T, f32}, {"a", a.T, f32}, {"b", b.T, bTypes},
		{"bias", opt.Bias, f32}, {"residual", res, f32}}); err != nil {
		return GemmDims{}, err
	}
	if opt.Norm != nil {
		if !wholeRows(dst) {
			return GemmDims{}, ArgumentErrorf(op, "Norm needs dst to be the rows of its whole tensor %v, not %s", dst.T.Shape(), describeMat(dst))
		}
		if err := checkFusedNorm(op, dst.T, *opt.Norm); err != nil {
			return GemmDims{}, err
		}
	}
	return GemmDims{Batch: dst.Batch, M: m, N: n, K: k}, nil
}

// wholeRows reports whether m views every element of its tensor once, row
// after row, each of its rows one of the tensor's (last dimension) rows.
func wholeRows(m Mat) bool {
	s := m.T.Shape()
	return len(s) > 0 && m.Offset == 0 && m.Cols == s[len(s)-1] && m.Batch*m.Rows*m.Cols == s.Numel() &&
		(m.Rows <= 1 || m.RowStride == m.Cols) && (m.Batch <= 1 || m.BatchStride == m.Rows*m.Cols)
}

// checkFusedNorm validates the Norm of a Gemm or FeedForward writing dst: the
// options of LayerNorm(dst, dst, norm), without a residual of their own.
func checkFusedNorm(op string, dst Tensor, norm LayerNormOptions) error {
	if norm.Residual != nil {
		return ArgumentErrorf(op, "Norm has a residual %v: the product's residual is added before the norm, give it there", norm.Residual.Shape())
	}
	if _, err := CheckLayerNorm(dst, dst, norm); err != nil {
		return fmt.Errorf("%s: Norm: %w", op, err)
	}
	return nil
}

// sameView reports whether a and b view the same elements in the same order
// (their tensors aside).
func sameView(a, b Mat) bool {
	return a.Batch == b.Batch && a.Rows == b.Rows && a.Cols == b.Cols && a.Offset == b.Offset &&
		(a.Batch <= 1 || a.BatchStride == b.BatchStride) && (a.Rows <= 1 || a.RowStride == b.RowStride)
}

// BatchIndex maps a batch index of dst onto a view that may be broadcast (batch 1).
func (m Mat) BatchIndex(b int) int {
	if m.Batch == 1 {
		return 0
	}
	return b
}

func checkActivation(op string, a Activation) error {
	if a < Identity || a > SiLU {
		return ArgumentErrorf(op, "unknown activation %d", int(a))
	}
	return nil
}

// CheckHeads verifies that every element of h lies inside its tensor.
func CheckHeads(op, name string, h Heads) error {
	if !present(h.T) {
		return NoTensorError(op, name)
	}
	if h.Batch < 0 || h.Heads < 0 || h.Seq < 0 || h.Dim < 0 || h.Offset < 0 ||
		h.BatchStride < 0 || h.HeadStride < 0 || h.SeqStride < 0 {
		return ShapeErrorf(op, "%s view has a negative size, offset or stride: %s", name, describeHeads(h))
	}
	if h.Batch == 0 || h.Heads == 0 || h.Seq == 0 || h.Dim == 0 {
		return nil
	}
	last, ok := lastIndex(h.Offset, [][2]int{{h.Batch - 1, h.BatchStride}, {h.Heads - 1, h.HeadStride},
		{h.Seq - 1, h.SeqStride}, {h.Dim - 1, 1}})
	if n := h.T.Shape().Numel(); !ok || last >= n {
		return ShapeErrorf(op, "%s view %s reaches element %s of a %v tensor (%d elements)",
			name, describeHeads(h), reach(last, ok), h.T.Shape(), n)
	}
	return nil
}

func describeHeads(h Heads) string {
	return fmt.Sprintf("[%d %d %d %d] (offset %d, strides %d/%d/%d)", h.Batch, h.Heads, h.Seq, h.Dim,
		h.Offset, h.BatchStride, h.HeadStride, h.SeqStride)
}

// Dims is "[B H S D]" for messages.
func (h Heads) Dims() string { return fmt.Sprintf("[%d %d %d %d]", h.Batch, h.Heads, h.Seq, h.Dim) }

// MaskLayout says where the mask entry of (b, h, i, j) lies:
// b*BatchStride + h*HeadStride + i*Sk + j; a stride is 0 along a dimension the
// mask broadcasts over. Present is false without a mask.
type MaskLayout struct {
	Present                 bool
	BatchStride, HeadStride int
}

// AttentionDims are the sizes of an attention call. Heads counts the query
// heads (and those of scores and weights); HeadsKV those of K and V, which
// divides Heads (equal to it without grouped-query attention, and for Softmax).
type AttentionDims struct {
	Batch, Heads, HeadsKV, SeqQ, SeqK, DimK, DimV int
	Mask                                          MaskLayout
}

// Group is the number of query heads that share one K/V head (1 without
// grouped-query attention).
func (d AttentionDims) Group() int {
	if d.HeadsKV == 0 {
		return 1
	}
	return d.Heads / d.HeadsKV
}

// KVHead is the K/V head that query head h reads: h / Group().
func (d AttentionDims) KVHead(h int) int { return h / d.Group() }

// maskForms lists the accepted mask shapes for messages.
func maskForms(d *AttentionDims) string {
	return fmt.Sprintf("[%[3]d %[4]d], [1 1 %[3]d %[4]d], [%[1]d 1 %[3]d %[4]d], [1 %[2]d %[3]d %[4]d] or [%[1]d %[2]d %[3]d %[4]d]",
		d.Batch, d.Heads, d.SeqQ, d.SeqK)
}

// maskLayout resolves a mask shape against [B,H,Sq,Sk] as PyTorch broadcasts it.
func maskLayout(s Shape, d *AttentionDims) (MaskLayout, bool) {
	plane := d.SeqQ * d.SeqK
	if len(s) == 2 {
		return MaskLayout{Present: true}, s[0] == d.SeqQ && s[1] == d.SeqK
	}
	if len(s) != 4 || s[2] != d.SeqQ || s[3] != d.SeqK {
		return MaskLayout{}, false
	}
	l := MaskLayout{Present: true}
	switch s[0] {
	case d.Batch:
		l.BatchStride = s[1] * plane
	case 1:
	default:
		return MaskLayout{}, false
	}
	switch s[1] {
	case d.Heads:
		l.HeadStride = plane
	case 1:
	default:
		return MaskLayout{}, false
	}
	if s[0] == 1 {
		l.BatchStride = 0
	}
	if s[1] == 1 {
		l.HeadStride = 0
	}
	return l, true
}

func checkMasks(op string, d *AttentionDims, opt AttentionOptions) error {
	if opt.Causal < NotCausal || opt.Causal > CausalBottomRight {
		return ArgumentErrorf(op, "unknown causal mode %d", int(opt.Causal))
	}
	if opt.MaskKind < MaskBool || opt.MaskKind > MaskAdditive {
		return ArgumentErrorf(op, "unknown mask kind %d", int(opt.MaskKind))
	}
	if opt.Mask != nil {
		s := opt.Mask.Shape()
		l, ok := maskLayout(s, d)
		if !ok {
			return ShapeErrorf(op, "mask is %v, want %s", s, maskForms(d))
		}
		d.Mask = l
	}
	if opt.KeyPadding != nil {
		if s := opt.KeyPadding.Shape(); !s.Equal(Shape{d.Batch, d.SeqK}) {
			return ShapeErrorf(op, "key padding mask is %v, want [%d %d]", s, d.Batch, d.SeqK)
		}
	}
	if err := CheckDType(op, "mask", opt.Mask, Float32); err != nil {
		return err
	}
	return CheckDType(op, "key padding mask", opt.KeyPadding, Float32)
}

// checkGroups verifies that kv's heads can serve q's: Hkv divides Hq.
func checkGroups(op string, q, kv Heads, kvName string) error {
	if kv.Heads == q.Heads || kv.Heads > 0 && q.Heads%kv.Heads == 0 {
		return nil
	}
	return ShapeErrorf(op, "q has %d heads, %s has %d: the K/V heads must divide the query heads (q %s, %s %s)",
		q.Heads, kvName, kv.Heads, q.Dims(), kvName, kv.Dims())
}

// CheckAttention validates a fused attention call: q [B H Sq D], k [B Hkv Sk D],
// v [B Hkv Sk Dv], out [B H Sq Dv], Hkv dividing H; q and out float32, k and v
// float32 or float16.
func CheckAttention(out, q, k, v Heads, opt AttentionOptions) (AttentionDims, error) {
	const op = "Attention"
	for _, x := range []struct {
		name string
		h    Heads
	}{{"out", out}, {"q", q}, {"k", k}, {"v", v}} {
		if err := CheckHeads(op, x.name, x.h); err != nil {
			return AttentionDims{}, err
		}
	}
	if q.Batch != k.Batch || q.Batch != v.Batch || k.Heads != v.Heads ||
		q.Dim != k.Dim || k.Seq != v.Seq || out.Batch != q.Batch || out.Heads != q.Heads ||
		out.Seq != q.Seq || out.Dim != v.Dim {
		return AttentionDims{}, ShapeErrorf(op, "q %s, k %s, v %s, out %s do not fit (want q [B H Sq D], k [B Hkv Sk D], v [B Hkv Sk Dv], out [B H Sq Dv])",
			q.Dims(), k.Dims(), v.Dims(), out.Dims())
	}
	if err := refuseAliases(op, "out", out.T, operand{"q", q.T}, operand{"k", k.T}, operand{"v", v.T},
		operand{"mask", opt.Mask}, operand{"key padding mask", opt.KeyPadding}); err != nil {
		return AttentionDims{}, err
	}
	if err := checkGroups(op, q, k, "k/v"); err != nil {
		return AttentionDims{}, err
	}
	if err := checkDTypes(op, []dtypeRule{{"out", out.T, f32}, {"q", q.T, f32}, {"k", k.T, kvTypes}, {"v", v.T, kvTypes}}); err != nil {
		return AttentionDims{}, err
	}
	d := AttentionDims{Batch: q.Batch, Heads: q.Heads, HeadsKV: k.Heads, SeqQ: q.Seq, SeqK: k.Seq, DimK: q.Dim, DimV: v.Dim}
	return d, checkMasks(op, &d, opt)
}

// The dtypes operands may have.
var (
	f32     = []DType{Float32}
	kvTypes = []DType{Float32, Float16}
	bTypes  = []DType{Float32, Float16, BFloat16}
)

// dtypeRule is an operand and the dtypes it accepts.
type dtypeRule struct {
	name    string
	t       Tensor
	allowed []DType
}

func checkDTypes(op string, rules []dtypeRule) error {
	for _, r := range rules {
		if err := CheckDType(op, r.name, r.t, r.allowed...); err != nil {
			return err
		}
	}
	return nil
}

// CheckScores validates a Scores call: q [B H Sq D] float32, k [B Hkv Sk D]
// float32 or float16 with Hkv dividing H, dst [B H Sq Sk] float32.
func CheckScores(dst Tensor, q, k Heads) (AttentionDims, error) {
	const op = "Scores"
	if err := CheckHeads(op, "q", q); err != nil {
		return AttentionDims{}, err
	}
	if err := CheckHeads(op, "k", k); err != nil {
		return AttentionDims{}, err
	}
	if q.Batch != k.Batch || q.Dim != k.Dim {
		return AttentionDims{}, ShapeErrorf(op, "q %s and k %s do not fit (want [B H Sq D] and [B Hkv Sk D])", q.Dims(), k.Dims())
	}
	if err := checkGroups(op, q, k, "k"); err != nil {
		return AttentionDims{}, err
	}
	if err := checkScoresTensor(op, "dst", dst, q.Batch, q.Heads, q.Seq, k.Seq); err != nil {
		return AttentionDims{}, err
	}
	if err := refuseAliases(op, "dst", dst, operand{"q", q.T}, operand{"k", k.T}); err != nil {
		return AttentionDims{}, err
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst, f32}, {"q", q.T, f32}, {"k", k.T, kvTypes}}); err != nil {
		return AttentionDims{}, err
	}
	return AttentionDims{Batch: q.Batch, Heads: q.Heads, HeadsKV: k.Heads, SeqQ: q.Seq, SeqK: k.Seq, DimK: q.Dim}, nil
}

func checkScoresTensor(op, name string, t Tensor, b, h, sq, sk int) error {
	if !present(t) {
		return NoTensorError(op, name)
	}
	if s := t.Shape(); !s.Equal(Shape{b, h, sq, sk}) {
		return ShapeErrorf(op, "%s is %v, want [%d %d %d %d]", name, s, b, h, sq, sk)
	}
	return nil
}

// CheckSoftmax validates a Softmax call; scores and dst are float32 [B, H, Sq, Sk].
func CheckSoftmax(dst, scores Tensor, opt AttentionOptions) (AttentionDims, error) {
	const op = "Softmax"
	if !present(scores) {
		return AttentionDims{}, NoTensorError(op, "scores")
	}
	s := scores.Shape()
	if len(s) != 4 {
		return AttentionDims{}, ShapeErrorf(op, "scores is %v, want [batch heads seq_q seq_k]", s)
	}
	if err := checkScoresTensor(op, "dst", dst, s[0], s[1], s[2], s[3]); err != nil {
		return AttentionDims{}, err
	}
	if err := refuseAliases(op, "dst", dst, operand{"mask", opt.Mask}, operand{"key padding mask", opt.KeyPadding}); err != nil {
		return AttentionDims{}, err
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst, f32}, {"scores", scores, f32}}); err != nil {
		return AttentionDims{}, err
	}
	d := AttentionDims{Batch: s[0], Heads: s[1], HeadsKV: s[1], SeqQ: s[2], SeqK: s[3]}
	return d, checkMasks(op, &d, opt)
}

// CheckAttendValues validates an AttendValues call: weights [B H Sq Sk] float32,
// v [B Hkv Sk Dv] float32 or float16 with Hkv dividing H, out [B H Sq Dv] float32.
func CheckAttendValues(out Heads, weights Tensor, v Heads) (AttentionDims, error) {
	const op = "AttendValues"
	if err := CheckHeads(op, "out", out); err != nil {
		return AttentionDims{}, err
	}
	if err := CheckHeads(op, "v", v); err != nil {
		return AttentionDims{}, err
	}
	if out.Batch != v.Batch || out.Dim != v.Dim {
		return AttentionDims{}, ShapeErrorf(op, "out %s and v %s do not fit (want [B H Sq Dv] and [B Hkv Sk Dv])", out.Dims(), v.Dims())
	}
	if err := checkGroups(op, out, v, "v"); err != nil {
		return AttentionDims{}, err
	}
	if err := refuseAliases(op, "out", out.T, operand{"weights", weights}, operand{"v", v.T}); err != nil {
		return AttentionDims{}, err
	}
	if err := checkScoresTensor(op, "weights", weights, out.Batch, out.Heads, out.Seq, v.Seq); err != nil {
		return AttentionDims{}, err
	}
	if err := checkDTypes(op, []dtypeRule{{"out", out.T, f32}, {"weights", weights, f32}, {"v", v.T, kvTypes}}); err != nil {
		return AttentionDims{}, err
	}
	return AttentionDims{Batch: v.Batch, Heads: out.Heads, HeadsKV: v.Heads, SeqQ: out.Seq, SeqK: v.Seq, DimV: v.Dim}, nil
}

// KVWriteDims are the sizes of a WriteKV call: N positions from Pos of a
// [Batch, Heads, Cap, Dim] cache.
type KVWriteDims struct{ Batch, Heads, Cap, Dim, Pos, N int }

// CheckWriteKV validates a WriteKV call: cache [B Hkv Cap D] float32 or
// float16, src float32 heads [B Hkv n D] of another tensor, 0 <= pos and
// pos+n <= Cap.
func CheckWriteKV(cache Tensor, src Heads, pos int) (KVWriteDims, error) {
	const op = "WriteKV"
	if !present(cache) {
		return KVWriteDims{}, NoTensorError(op, "cache")
	}
	if err := CheckHeads(op, "src", src); err != nil {
		return KVWriteDims{}, err
	}
	c := cache.Shape()
	if len(c) != 4 {
		return KVWriteDims{}, ShapeErrorf(op, "cache is %v, want [batch heads_kv capacity dim]", c)
	}
	if src.Batch != c[0] || src.Heads != c[1] || src.Dim != c[3] {
		return KVWriteDims{}, ShapeErrorf(op, "src %s does not fit cache %v (want [%d %d n %d])", src.Dims(), c, c[0], c[1], c[3])
	}
	if pos < 0 {
		return KVWriteDims{}, ArgumentErrorf(op, "position %d < 0", pos)
	}
	if pos > c[2]-src.Seq {
		return KVWriteDims{}, ShapeErrorf(op, "positions %d..%d (%d rows from position %d) past capacity %d of cache %v",
			pos, pos+src.Seq-1, src.Seq, pos, c[2], c)
	}
	if err := checkDTypes(op, []dtypeRule{{"cache", cache, kvTypes}, {"src", src.T, f32}}); err != nil {
		return KVWriteDims{}, err
	}
	if err := refuseAliases(op, "cache", cache, operand{"src", src.T}); err != nil {
		return KVWriteDims{}, err
	}
	return KVWriteDims{Batch: c[0], Heads: c[1], Cap: c[2], Dim: c[3], Pos: pos, N: src.Seq}, nil
}

// RowDims are the sizes of a row-wise operation: Rows rows of Cols elements.
type RowDims struct{ Rows, Cols int }

func rowsOf(s Shape) RowDims {
	if len(s) == 0 {
		return RowDims{Rows: 1, Cols: 1}
	}
	c := s[len(s)-1]
	return RowDims{Rows: Shape(s[:len(s)-1]).Numel(), Cols: c}
}

func sameShape(op, name string, t Tensor, want Shape) error {
	if !present(t) {
		return NoTensorError(op, name)
	}
	if s := t.Shape(); !s.Equal(want) {
		return ShapeErrorf(op, "%s is %v, want %v", name, s, want)
	}
	return nil
}

func optionalShape(op, name string, t Tensor, want Shape) error {
	if t == nil {
		return nil
	}
	return sameShape(op, name, t, want)
}

// checkNorm validates what a row normalisation (LayerNorm, RMSNorm) needs of
// every call: x of at least one dimension, dst shaped as x, a residual (if
// any) shaped as x, and a non-negative eps; it returns x's rows and shape.
func checkNorm(op string, dst, x, residual Tensor, eps float32) (RowDims, Shape, error) {
	if !present(x) {
		return RowDims{}, nil, NoTensorError(op, "x")
	}
	s := x.Shape()
	if len(s) == 0 {
		return RowDims{}, nil, ShapeErrorf(op, "x is a scalar, want [..., features]")
	}
	if err := sameShape(op, "dst", dst, s); err != nil {
		return RowDims{}, nil, err
	}
	if err := optionalShape(op, "residual", residual, s); err != nil {
		return RowDims{}, nil, err
	}
	if eps < 0 || eps != eps {
		return RowDims{}, nil, ArgumentErrorf(op, "eps = %g, want > 0", eps)
	}
	return rowsOf(s), s, nil
}

// CheckLayerNorm validates a LayerNorm call.
func CheckLayerNorm(dst, x Tensor, opt LayerNormOptions) (RowDims, error) {
	const op = "LayerNorm"
	d, _, err := checkNorm(op, dst, x, opt.Residual, opt.Eps)
	if err != nil {
		return RowDims{}, err
	}
	for _, p := range []struct {
		name string
		t    Tensor
	}{{"gamma", opt.Gamma}, {"beta", opt.Beta}} {
		if err := optionalShape(op, p.name, p.t, Shape{d.Cols}); err != nil {
			return RowDims{}, err
		}
	}
	if err := refuseAliases(op, "dst", dst, operand{"gamma", opt.Gamma}, operand{"beta", opt.Beta}); err != nil {
		return RowDims{}, err
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst, f32}, {"x", x, f32}, {"gamma", opt.Gamma, f32},
		{"beta", opt.Beta, f32}, {"residual", opt.Residual, f32}}); err != nil {
		return RowDims{}, err
	}
	return d, nil
}

// EpsFloat32 converts a LayerNorm eps given in float64 (a flag, a file's
// metadata) to the float32 the operations take, refusing with ErrArgument
// one that is not positive and finite in float32: 1e-50 would round to 0,
// which LayerNormOptions and model.LayerConfig read as "the default".
func EpsFloat32(eps float64) (float32, error) {
	e := float32(eps)
	if !(e > 0) || math.IsInf(float64(e), 0) {
		return 0, ArgumentErrorf("LayerNorm", "eps %g is not a positive float32 (it rounds to %g)", eps, e)
	}
	return e, nil
}

// FFNDims are the sizes of a FeedForward call: Rows rows of DModel, hidden width DFF.
type FFNDims struct{ Rows, DModel, DFF int }

// CheckFeedForward validates a FeedForward call.
func CheckFeedForward(dst, x Tensor, w FFNWeights, opt FFNOptions) (FFNDims, error) {
	const op = "FeedForward"
	if !present(x) {
		return FFNDims{}, NoTensorError(op, "x")
	}
	s := x.Shape()
	if len(s) == 0 {
		return FFNDims{}, ShapeErrorf(op, "x is a scalar, want [..., d_model]")
	}
	if err := sameShape(op, "dst", dst, s); err != nil {
		return FFNDims{}, err
	}
	r := rowsOf(s)
	if !present(w.W1) || !present(w.W2) {
		return FFNDims{}, ArgumentErrorf(op, "W1 and W2 are required")
	}
	w1 := w.W1.Shape()
	if len(w1) != 2 || w1[1] != r.Cols {
		return FFNDims{}, ShapeErrorf(op, "W1 is %v, want [d_ff %d] for x %v", w1, r.Cols, s)
	}
	dff := w1[0]
	if err := sameShape(op, "W2", w.W2, Shape{r.Cols, dff}); err != nil {
		return FFNDims{}, err
	}
	if err := optionalShape(op, "B1", w.B1, Shape{dff}); err != nil {
		return FFNDims{}, err
	}
	if err := optionalShape(op, "B2", w.B2, Shape{r.Cols}); err != nil {
		return FFNDims{}, err
	}
	if err := optionalShape(op, "residual", opt.Residual, s); err != nil {
		return FFNDims{}, err
	}
	if err := checkActivation(op, opt.Activation); err != nil {
		return FFNDims{}, err
	}
	if err := refuseAliases(op, "dst", dst, operand{"W1", w.W1}, operand{"B1", w.B1}, operand{"W2", w.W2}, operand{"B2", w.B2}); err != nil {
		return FFNDims{}, err
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst, f32}, {"x", x, f32}, {"W1", w.W1, f32}, {"B1", w.B1, f32},
		{"W2", w.W2, f32}, {"B2", w.B2, f32}, {"residual", opt.Residual, f32}}); err != nil {
		return FFNDims{}, err
	}
	if opt.Norm != nil {
		if err := checkFusedNorm(op, dst, *opt.Norm); err != nil {
			return FFNDims{}, err
		}
	}
	return FFNDims{Rows: r.Rows, DModel: r.Cols, DFF: dff}, nil
}

// PositionalDims are the sizes of a PositionalEncoding call: Rows rows (Batch
// sequences of Seq positions) of D features.
type PositionalDims struct{ Batch, Seq, D int }

// CheckPositional validates a PositionalEncoding call.
func CheckPositional(dst, x Tensor, opt PositionalOptions) (PositionalDims, error) {
	const op = "PositionalEncoding"
	if !present(dst) {
		return PositionalDims{}, NoTensorError(op, "dst")
	}
	s := dst.Shape()
	if len(s) < 2 {
		return PositionalDims{}, ShapeErrorf(op, "dst is %v, want [..., seq, d_model]", s)
	}
	if x != nil {
		if err := sameShape(op, "x", x, s); err != nil {
			return PositionalDims{}, err
		}
	}
	if opt.Start < 0 {
		return PositionalDims{}, ArgumentErrorf(op, "start position %d < 0", opt.Start)
	}
	if err := checkDTypes(op, []dtypeRule{{"dst", dst, f32}, {"x", x, f32}}); err != nil {
		return PositionalDims{}, err
	}
	return PositionalDims{Batch: Shape(s[:len(s)-2]).Numel(), Seq: s[len(s)-2], D: s[len(s)-1]}, nil
}
