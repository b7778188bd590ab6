package model

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/safetensors"
)

// ErrWeights marks a weight set that does not fit a model: tensors missing,
// unexpected or of the wrong shape or dtype. The error lists every problem.
var ErrWeights = errors.New("bad weights")

// Weights are named tensors in PyTorch's state_dict layout (Linear weights are
// [out_features, in_features]), usually read from a safetensors file.
type Weights struct {
	byName map[string]*safetensors.Tensor
}

// NewWeights collects tensors by name; a repeated name is an error.
func NewWeights(tensors ...*safetensors.Tensor) (*Weights, error) {
	w := &Weights{byName: make(map[string]*safetensors.Tensor, len(tensors))}
	for i, t := range tensors {
		if t == nil {
			return nil, backend.ArgumentErrorf("model.NewWeights", "tensor %d is nil", i)
		}
		if _, dup := w.byName[t.Name]; dup {
			return nil, fmt.Errorf("model: %w: duplicate tensor %q", ErrWeights, t.Name)
		}
		w.byName[t.Name] = t
	}
	return w, nil
}

// ReadWeights reads every tensor of a safetensors file.
func ReadWeights(path string) (*Weights, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return NewWeights(f.Tensors...)
}

// Names lists the tensor names in sorted order.
func (w *Weights) Names() []string {
	names := make([]string, 0, len(w.byName))
	for n := range w.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Upload converts t to float32 (U8 and BOOL masks become 0/1) and uploads it with its shape.
func Upload(be backend.Backend, t *safetensors.Tensor) (backend.Tensor, error) {
	if be == nil || t == nil {
		return nil, backend.ArgumentErrorf("model.Upload", "nil backend or tensor")
	}
	data, err := t.Float32s()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	bt, err := be.Upload(data, t.Shape...)
	if err != nil {
		return nil, fmt.Errorf("model: uploading %q: %w", t.Name, err)
	}
	return bt, nil
}

// BoolConvention says what a true entry of a boolean mask means. The backend
// and every Forward read a boolean mask as TrueMasks; a mask given in the
// other convention is inverted once, where it is read or uploaded.
type BoolConvention int

const (
	// TrueMasks: true (nonzero) = the key is masked out, not attended to. This
	// is nn.MultiheadAttention's and nn.Transformer's convention (attn_mask,
	// key_padding_mask, src_mask, tgt_mask, ...) and the default.
	TrueMasks BoolConvention = iota
	// TrueAttends: true = the key takes part, false = masked out. This is
	// F.scaled_dot_product_attention's attn_mask convention (and that of
	// Hugging Face's attention_mask, 1 = token).
	TrueAttends
)

func (c BoolConvention) String() string {
	switch c {
	case TrueMasks:
		return "masked"
	case TrueAttends:
		return "attend"
	}
	return fmt.Sprintf("BoolConvention(%d)", int(c))
}

// ParseBoolConvention reads "masked" (true = masked, nn.MultiheadAttention)
// or "attend" (true = attend, F.scaled_dot_product_attention).
func ParseBoolConvention(s string) (BoolConvention, error) {
	switch strings.ToLower(s) {
	case "masked", "mha", "":
		return TrueMasks, nil
	case "attend", "sdpa":
		return TrueAttends, nil
	}
	return 0, fmt.Errorf("unknown boolean mask convention %q (want masked: true = masked, as nn.MultiheadAttention; or attend: true = attend, as F.scaled_dot_product_attention)", s)
}

// UploadBoolMask uploads a boolean mask of the given shape read as conv says,
// as the float 0/1 tensor (1 = masked) that backend.MaskBool and
// AttentionOptions.KeyPadding expect.
func UploadBoolMask(be backend.Backend, mask []bool, conv BoolConvention, shape ...int) (backend.Tensor, error) {
	switch {
	case be == nil:
		return nil, backend.ArgumentErrorf("model.UploadBoolMask", "nil backend")
	case conv != TrueMasks && conv != TrueAttends:
		return nil, backend.ArgumentErrorf("model.UploadBoolMask", "unknown boolean mask convention %d", int(conv))
	}
	data := make([]float32, len(mask))
	for i, m := range mask {
		if m == (conv == TrueMasks) {
			data[i] = 1
		}
	}
	t, err := be.Upload(data, shape...)
	if err != nil {
		return nil, fmt.Errorf("model: uploading a boolean mask: %w", err)
	}
	return t, nil
}

// UploadMask uploads an attention or key padding mask from a file and says how
// to read it: U8 or BOOL is boolean, 1 = masked (nn.MultiheadAttention's
// convention), giving float 0/1 with backend.MaskBool; a float mask is additive
// (-Inf masks) with backend.MaskAdditive. It is UploadMaskAs with TrueMasks.
func UploadMask(be backend.Backend, t *safetensors.Tensor) (backend.Tensor, backend.MaskKind, error) {
	return UploadMaskAs(be, t, TrueMasks)
}

// UploadMaskAs is UploadMask with a boolean mask read as conv says.
func UploadMaskAs(be backend.Backend, t *safetensors.Tensor, conv BoolConvention) (backend.Tensor, backend.MaskKind, error) {
	if be == nil || t == nil {
		return nil, 0, backend.ArgumentErrorf("model.UploadMask", "nil backend or mask")
	}
	switch t.DType {
	case safetensors.U8, safetensors.BOOL:
		data, err := t.Float32s()
		if err != nil {
			return nil, 0, fmt.Errorf("model: %w", err)
		}
		bools := make([]bool, len(data))
		for i, v := range data {
			bools[i] = v != 0
		}
		bt, err := UploadBoolMask(be, bools, conv, t.Shape...)
		if err != nil {
			return nil, 0, fmt.Errorf("model: mask %q: %w", t.Name, err)
		}
		return bt, backend.MaskBool, nil
	case safetensors.F32, safetensors.F64, safetensors.F16, safetensors.BF16:
		bt, err := Upload(be, t)
		return bt, backend.MaskAdditive, err
	}
	return nil, 0, fmt.Errorf("model: mask %q has dtype %s, want BOOL or U8 (boolean) or a float type (additive)", t.Name, t.DType)
}

// loadState is shared by the loaders of one model: the weights it reads, the
// problems found so far and the tensors uploaded (released if loading fails).
type loadState struct {
	be       backend.Backend
	w        *Weights
	used     map[string]bool
	problems []string
	uploaded []backend.Tensor
}

// loader reads weights under one name prefix ("layers.3.self_attn.").
type loader struct {
	*loadState
	prefix string
}

// newLoader is a loader of op's weights w onto be; a nil be or w is ErrArgument.
func newLoader(op string, be backend.Backend, w *Weights, prefix string) (loader, error) {
	switch {
	case be == nil:
		return loader{}, backend.ArgumentErrorf(op, "no backend")
	case w == nil:
		return loader{}, backend.ArgumentErrorf(op, "no weights")
	}
	return loader{loadState: &loadState{be: be, w: w, used: map[string]bool{}}, prefix: prefix}, nil
}

// sub is a loader for the names under prefix+p.
func (l loader) sub(p string) loader { return loader{loadState: l.loadState, prefix: l.prefix + p} }

func (l loader) problemf(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// floats returns the data of weight prefix+name, which must have the given shape
// and a float dtype; a problem is recorded and nil returned otherwise.
func (l loader) floats(name string, shape ...int) []float32 {
	full := l.prefix + name
	t := l.w.byName[full]
	if t == nil {
		l.problemf("missing %s %v", full, backend.Shape(shape))
		return nil
	}
	l.used[full] = true
	if !backend.Shape(t.Shape).Equal(shape) {
		l.problemf("%s is %v, want %v", full, backend.Shape(t.Shape), backend.Shape(shape))
		return nil
	}
	switch t.DType {
	case safetensors.F32, safetensors.F64, safetensors.F16, safetensors.BF16:
	default:
		l.problemf("%s has dtype %s, want a float type", full, t.DType)
		return nil
	}
	data, err := t.Float32s()
	if err != nil {
		l.problemf("%s: %v", full, err)
		return nil
	}
	return data
}

// upload puts data on the device; nil data (a weight with a problem) gives nil.
func (l loader) upload(what string, data []float32, shape ...int) backend.Tensor {
	if data == nil || len(l.problems) > 0 {
		return nil
	}
	t, err := l.be.Upload(data, shape...)
	if err != nil {
		l.problemf("uploading %s%s: %v", l.prefix, what, err)
		return nil
	}
	l.uploaded = append(l.uploaded, t)
	return t
}

// tensor loads weight prefix+name of the given shape onto the device.
func (l loader) tensor(name string, shape ...int) backend.Tensor {
	return l.upload(name, l.floats(name, shape...), shape...)
}

// finish reports every weight under the loader's prefix that was not used, and
// returns all problems as one error (releasing what was uploaded), or the
// uploaded tensors for the model to own.
func (l loader) finish(what string) ([]backend.Tensor, error) {
	var extra []string
	for name := range l.w.byName {
		if strings.HasPrefix(name, l.prefix) && !l.used[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		l.problemf("unexpected %s %v", name, backend.Shape(l.w.byName[name].Shape))
	}
	if len(l.problems) == 0 {
		return l.uploaded, nil
	}
	err := fmt.Errorf("model: %w for %s (prefix %q): %s", ErrWeights, what, l.prefix, strings.Join(l.problems, "; "))
	return nil, errors.Join(err, releaseAll(l.uploaded))
}

// releaseAll releases every tensor, joining the errors.
func releaseAll(ts []backend.Tensor) error {
	var errs []error
	for _, t := range ts {
		if t != nil {
			errs = append(errs, t.Release())
		}
	}
	return errors.Join(errs...)
}
