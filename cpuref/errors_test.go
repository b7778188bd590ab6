package cpuref_test

import (
	"errors"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// foreign is a tensor of no backend.
type foreign struct{}

func (foreign) Shape() backend.Shape { return backend.Shape{2, 2} }
func (foreign) DType() backend.DType { return backend.Float32 }
func (foreign) Release() error       { return nil }

func TestErrors(t *testing.T) {
	be := cpuref.New()
	x := upload(t, be, make([]float32, 4), 2, 2)
	y := upload(t, be, make([]float32, 4), 2, 2)
	other := cpuref.New()
	z := upload(t, other, make([]float32, 4), 2, 2)
	released := upload(t, be, make([]float32, 4), 2, 2)
	noErr(t, released.Release())
	noErr(t, released.Release())

	gemm := func(a backend.Tensor) error {
		return be.Gemm(backend.MatOf(x), backend.MatOf(a), backend.MatOf(y), backend.GemmOptions{})
	}
	ln := func(a backend.Tensor) error { return be.LayerNorm(x, a, backend.LayerNormOptions{}) }
	for name, err := range map[string]struct {
		got, want error
	}{
		"gemm foreign":   {gemm(foreign{}), backend.ErrForeignTensor},
		"gemm other":     {gemm(z), backend.ErrForeignTensor},
		"gemm released":  {gemm(released), backend.ErrReleased},
		"ln other":       {ln(z), backend.ErrForeignTensor},
		"gemm shape":     {be.Gemm(backend.MatOf(x), backend.MatOf(x), backend.MatOf(upload(t, be, make([]float32, 6), 3, 2)), backend.GemmOptions{}), backend.ErrShape},
		"ln eps":         {be.LayerNorm(x, y, backend.LayerNormOptions{Eps: -1}), backend.ErrArgument},
		"download":       {be.Download(make([]float32, 3), x), backend.ErrShape},
		"upload":         {func() error { _, err := be.Upload(make([]float32, 3), 2, 2); return err }(), backend.ErrShape},
		"alloc":          {func() error { _, err := be.Alloc(2, -1); return err }(), backend.ErrShape},
		"download other": {be.Download(make([]float32, 4), z), backend.ErrForeignTensor},
	} {
		truef(t, errors.Is(err.got, err.want), "%s: got %v, want %v", name, err.got, err.want)
	}

	noErr(t, be.Close())
	noErr(t, be.Close())
	truef(t, errors.Is(ln(y), backend.ErrReleased), "LayerNorm after Close")
	truef(t, errors.Is(be.Download(make([]float32, 4), x), backend.ErrReleased), "Download after Close")
	truef(t, errors.Is(be.Write(x, make([]float32, 4)), backend.ErrReleased), "Write after Close")
	_, err := be.Alloc(1)
	truef(t, errors.Is(err, backend.ErrReleased), "Alloc after Close: %v", err)
	truef(t, be.Name() == "cpu", "Name")
}
