package backend

import (
	"errors"
	"fmt"
	"strings"
)

// Backend runs the building blocks of a Transformer on one device.
//
// Every tensor passed to a Backend must have been made by that same Backend
// (Alloc or Upload). Operations may run asynchronously on the device; Download
// waits for all work queued before it. A Backend is safe for concurrent use by
// multiple goroutines; Close releases the device and is idempotent.
type Backend interface {
	// Name identifies the device, e.g. "cpu" or "opencl:0 NVIDIA H100 80GB HBM3".
	Name() string

	// Alloc returns a zero-filled float32 tensor of the given shape (AllocAs(Float32, shape...)).
	Alloc(shape ...int) (Tensor, error)
	// AllocAs returns a zero-filled tensor of the given dtype and shape.
	AllocAs(dtype DType, shape ...int) (Tensor, error)
	// Upload copies data (row-major, len == product of shape) into a new float32 tensor.
	Upload(data []float32, shape ...int) (Tensor, error)
	// UploadAs converts data into a new tensor of the given dtype, rounding to
	// nearest, ties to even (Float16Bits, BFloat16Bits); float32 is copied exactly.
	UploadAs(dtype DType, data []float32, shape ...int) (Tensor, error)
	// UploadBits copies raw 16-bit values (binary16 or bfloat16 bit patterns)
	// into a new Float16 or BFloat16 tensor, without rounding.
	UploadBits(dtype DType, bits []uint16, shape ...int) (Tensor, error)
	// Download copies t (of any dtype, converted exactly to float32) into dst
	// (len(dst) == t.Shape().Numel()), waiting for queued work.
	Download(dst []float32, t Tensor) error
	// Write copies data (row-major, len == dst.Shape().Numel()) into the
	// existing tensor dst, converted to its dtype as UploadAs converts, after
	// the work queued before it. A loop that feeds inputs of one shape reuses
	// a tensor this way instead of making one per call. A wrong length is an
	// ErrShape, and dst is left as it was.
	Write(dst Tensor, data []float32) error
	// WriteKV copies the float32 heads src [B,Hkv,n,D] into positions [pos, pos+n)
	// of the cache [B,Hkv,Cap,D] (Float32, or Float16 rounded to nearest even),
	// leaving every other position as it was. pos+n > Cap is an ErrShape naming
	// the position and the capacity. Read the filled part with KVHeads.
	WriteKV(cache Tensor, src Heads, pos int) error

	// Gemm computes dst = act(alpha*op(a)*op(b) + beta*dst + bias) + residual for
	// every matrix of a batch; see GemmOptions for the order of the epilogue.
	Gemm(dst, a, b Mat, opt GemmOptions) error

	// Scores computes dst[b,h] = scale * q[b,h] * k[b,g(h)]^T; dst is [B,H,Sq,Sk].
	// A scale of 0 means 1/sqrt(q.Dim). K may have fewer heads than q (grouped-query
	// attention, see AttentionOptions) and may be Float16.
	Scores(dst Tensor, q, k Heads, scale float32) error
	// Softmax applies the masks of opt (not opt.Scale) to scores [B,H,Sq,Sk]
	// and normalises each row into dst, which may be scores itself.
	// A row whose every key is masked becomes all zeros.
	Softmax(dst, scores Tensor, opt AttentionOptions) error
	// AttendValues computes out[b,h] = weights[b,h] * v[b,g(h)]; weights is [B,H,Sq,Sk],
	// v may have fewer heads than out (grouped-query) and may be Float16.
	// Values whose weight is exactly zero are skipped, so NaN in masked values never leaks.
	AttendValues(out Heads, weights Tensor, v Heads) error
	// Attention is the fused softmax(scale*q*k^T + masks)*v with an online softmax:
	// it never stores the Sq x Sk matrix. K and V may have Hkv heads, Hkv dividing
	// q's H (K/V head j serves query heads j*H/Hkv ... (j+1)*H/Hkv-1, PyTorch's
	// repeat_interleave order), and may be Float16; q and out are float32.
	// A few query rows against many keys (decoding) split the keys over the cores.
	Attention(out, q, k, v Heads, opt AttentionOptions) error

	// LayerNorm normalises each row (last dimension) of x (+ opt.Residual) into dst.
	LayerNorm(dst, x Tensor, opt LayerNormOptions) error
	// FeedForward computes dst = act(x*W1^T + b1)*W2^T + b2 (+ opt.Residual) for x [..., dModel].
	FeedForward(dst, x Tensor, w FFNWeights, opt FFNOptions) error
	// PositionalEncoding computes dst = x*opt.InputScale + PE[opt.Start:...] for dst, x [..., S, D];
	// with x nil it writes the encoding itself into dst [S, D].
	PositionalEncoding(dst, x Tensor, opt PositionalOptions) error

	// Close releases the device and every resource the Backend holds. It is idempotent.
	Close() error

	// The decoder-only (Llama family) operations.

	// RMSNorm writes y / sqrt(mean(y^2) + eps) * Weight into dst for each row
	// (last dimension) of y = x + opt.Residual, and y itself into opt.ResidualOut
	// (the new residual stream) when given. dst and ResidualOut may be x or the
	// residual.
	RMSNorm(dst, x Tensor, opt RMSNormOptions) error
	// Rotary applies the rotary position embedding (RoPE) to the heads x [B,H,S,D]
	// and writes them into dst, which may be x itself (the same view) but must
	// not overlap it otherwise.
	Rotary(dst, x Heads, opt RotaryOptions) error
	// GatedFeedForward computes dst = (act(x*Gate^T) * (x*Up^T)) * Down^T (+ opt.Residual)
	// for x [..., E]: the gated FFN of Llama (act SiLU: SwiGLU). dst may be x or the residual.
	GatedFeedForward(dst, x Tensor, w GatedFFNWeights, opt FFNOptions) error
}

// Tensor is an array of one DType with a shape, owned by the Backend that made it.
type Tensor interface {
	Shape() Shape
	// DType is the element type the tensor stores.
	DType() DType
	// Release frees the tensor's memory; it is idempotent. Using a released tensor is an error.
	Release() error
}

// Shape is the size of each dimension, outermost first.
type Shape []int

// Numel is the number of elements, the product of the dimensions (1 for a scalar shape).
func (s Shape) Numel() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and o have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Activation is the nonlinearity of a fused epilogue.
type Activation int

const (
	// Identity applies no nonlinearity.
	Identity Activation = iota
	// ReLU is max(x, 0).
	ReLU
	// GELU is the exact form x/2 * (1 + erf(x/sqrt(2))), as PyTorch's default.
	GELU
	// SiLU is x * sigmoid(x) = x / (1 + exp(-x)) (also called swish), the gate of SwiGLU.
	SiLU
)

func (a Activation) String() string {
	switch a {
	case Identity:
		return "identity"
	case ReLU:
		return "relu"
	case GELU:
		return "gelu"
	case SiLU:
		return "silu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation reads "relu", "gelu", "silu" or "identity" (also "none" and "").
func ParseActivation(s string) (Activation, error) {
	switch strings.ToLower(s) {
	case "relu":
		return ReLU, nil
	case "gelu":
		return GELU, nil
	case "silu", "swish":
		return SiLU, nil
	case "", "none", "identity":
		return Identity, nil
	}
	return 0, fmt.Errorf("unknown activation %q (want relu, gelu, silu or identity)", s)
}

// Errors every backend returns for bad calls, wrapped with the details (test with errors.Is).
var (
	// ErrShape marks a shape, size or view that does not fit the operation.
	ErrShape = errors.New("bad shape")
	// ErrReleased marks use of a tensor after Release or of a Backend after Close.
	ErrReleased = errors.New("use after release")
	// ErrForeignTensor marks a tensor made by another Backend.
	ErrForeignTensor = errors.New("tensor belongs to another backend")
	// ErrArgument marks an invalid option value (negative eps, unknown activation, ...).
	ErrArgument = errors.New("bad argument")
	// ErrTooLarge marks a tensor larger than the backend can hold: more elements
	// than it can index, or more bytes than its memory. It is refused before any
	// allocation is tried.
	ErrTooLarge = errors.New("tensor too large")
)

// CheckShape verifies that every dimension of shape is >= 0 and that the
// product of its non-zero dimensions is at most limit (so that every stride
// fits too), and returns the element count (computed without overflow). The
// dimensions are judged alike whatever their order: [2^40, 0, 64] and
// [0, 2^40, 64] are both too large. Errors wrap ErrShape or ErrTooLarge and
// name op and the shape.
func CheckShape(op string, shape []int, limit int) (int, error) {
	n, empty := 1, false
	for _, d := range shape {
		if d < 0 {
			return 0, ShapeErrorf(op, "negative dimension in %v", Shape(shape))
		}
	}
	for _, d := range shape {
		if d == 0 {
			empty = true
			continue
		}
		if n > limit/d {
			return 0, fmt.Errorf("%s: %w: %v has more than %d elements", op, ErrTooLarge, Shape(shape), limit)
		}
		n *= d
	}
	if empty {
		return 0, nil
	}
	return n, nil
}

// NoTensorError is the error of an operation given a nil tensor where one is
// required: it wraps ErrArgument.
func NoTensorError(op, name string) error {
	return ArgumentErrorf(op, "%s has no tensor", name)
}

// CheckHostCopy checks that n host values match the elements of t, the tensor
// called name of a copy to or from the host (Write, Download): an ErrShape
// naming both otherwise.
func CheckHostCopy(op, name string, t Tensor, n int) error {
	if numel := t.Shape().Numel(); numel != n {
		return ShapeErrorf(op, "%d host values for %s %v %v (%d elements)", n, name, t.DType(), t.Shape(), numel)
	}
	return nil
}

// ShapeErrorf returns an error wrapping ErrShape, prefixed by the operation's name.
func ShapeErrorf(op, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", op, ErrShape, fmt.Sprintf(format, args...))
}

// ArgumentErrorf returns an error wrapping ErrArgument, prefixed by the operation's name.
func ArgumentErrorf(op, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", op, ErrArgument, fmt.Sprintf(format, args...))
}
