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
	for _, t := range tensors {
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

// Upload converts t to float32 (U8 masks become 0/1) and uploads it with its shape.
func Upload(be backend.Backend, t *safetensors.Tensor) (backend.Tensor, error) {
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

// UploadMask uploads an attention mask from a file and says how to read it:
// U8 (boolean, 1 = masked, as nn.MultiheadAttention) gives float 0/1 with
// backend.MaskBool; a float mask is additive (-Inf masks) with backend.MaskAdditive.
func UploadMask(be backend.Backend, t *safetensors.Tensor) (backend.Tensor, backend.MaskKind, error) {
	kind := backend.MaskAdditive
	switch t.DType {
	case safetensors.U8:
		kind = backend.MaskBool
	case safetensors.F32, safetensors.F64, safetensors.F16, safetensors.BF16:
	default:
		return nil, 0, fmt.Errorf("model: mask %q has dtype %s, want U8 (boolean) or a float type (additive)", t.Name, t.DType)
	}
	bt, err := Upload(be, t)
	return bt, kind, err
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

func newLoader(be backend.Backend, w *Weights, prefix string) loader {
	return loader{loadState: &loadState{be: be, w: w, used: map[string]bool{}}, prefix: prefix}
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
