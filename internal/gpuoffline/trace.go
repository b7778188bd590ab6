package gpuoffline

import (
	"fmt"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/backend/backendtest"
	"github.com/clattn/clattn/gpu"
)

// Profile is a reference device whose programs are listed and the targets
// they are compiled for.
type Profile struct {
	Name    string
	Info    gpu.DeviceInfo
	Targets []Target
}

// Profiles: the H100's programs for sm_90, the MI250X's for the three AMD
// targets, and the generic GPU's (any other vendor) for all four.
var Profiles = []Profile{
	{Name: "h100", Info: gpu.H100, Targets: Targets[:1]},
	{Name: "amd", Info: gpu.MI250X, Targets: Targets[1:]},
	{Name: "generic", Info: gpu.GenericGPU, Targets: Targets},
}

// HeadDims are the head dims the sweep runs every attention path at, beside
// the conformance suite's shapes: those of today's models.
var HeadDims = []int{32, 64, 80, 96, 128, 256}

// TracePrograms opens the OpenCL device info describes (PoCL will do),
// makes it choose its kernels as p's device would (Device.ChooseAs), runs
// the conformance suite's short shapes, an attention sweep over HeadDims and
// a GEMM large enough for the class tiling on it, and returns every program that built: exactly what p's device
// builds for the same calls. Suite failures are returned too: a program
// listed for a path that gives wrong answers on PoCL is worth knowing of.
func TracePrograms(info gpu.DeviceInfo, p Profile) ([]gpu.ProgramBuild, []string, error) {
	dev, err := gpu.OpenDevice(info)
	if err != nil {
		return nil, nil, err
	}
	defer dev.Close()
	restore := dev.ChooseAs(p.Info)
	defer restore()
	var failures []string
	for _, r := range backendtest.Verify(dev, false) {
		if !r.Passed {
			failures = append(failures, r.Name)
		}
	}
	for _, d := range HeadDims {
		if err := attentionSweep(dev, d); err != nil {
			return nil, failures, fmt.Errorf("head dim %d: %w", d, err)
		}
	}
	if err := largeGemm(dev); err != nil {
		return nil, failures, fmt.Errorf("large GEMM: %w", err)
	}
	if err := dev.Finish(); err != nil {
		return nil, failures, err
	}
	return dev.Programs(), failures, nil
}

// attentionSweep runs the fused and the composed attention (Scores, Softmax,
// AttendValues), causal and not, at head dim d.
func attentionSweep(b backend.Backend, d int) error {
	const batch, heads, seq = 1, 2, 33
	var ts []backend.Tensor
	defer func() {
		for _, t := range ts {
			_ = t.Release()
		}
	}()
	alloc := func(shape ...int) (backend.Tensor, error) {
		t, err := b.Alloc(shape...)
		if err == nil {
			ts = append(ts, t)
		}
		return t, err
	}
	x, err := alloc(batch, heads, seq, d)
	if err != nil {
		return err
	}
	out, err := alloc(batch, heads, seq, d)
	if err != nil {
		return err
	}
	w, err := alloc(batch, heads, seq, seq)
	if err != nil {
		return err
	}
	xh, _ := backend.HeadsOf(x)
	oh, _ := backend.HeadsOf(out)
	for _, causal := range []backend.CausalMode{backend.NotCausal, backend.CausalTopLeft} {
		opt := backend.AttentionOptions{Causal: causal}
		if err := b.Attention(oh, xh, xh, xh, opt); err != nil {
			return err
		}
		if err := b.Scores(w, xh, xh, 0); err != nil {
			return err
		}
		if err := b.Softmax(w, w, opt); err != nil {
			return err
		}
		if err := b.AttendValues(oh, w, xh); err != nil {
			return err
		}
	}
	return nil
}

// largeGemm runs a 1536x1536x64 product (y = x W^T, bias and ReLU fused): 144
// work-groups of the H100's 128x128 tiles, more than its 132 SMs, so the
// dispatch keeps the class tiling (smaller products take the 64x64 one).
func largeGemm(b backend.Backend) error {
	const n, k = 1536, 64
	x, err := b.Alloc(n, k)
	if err != nil {
		return err
	}
	defer x.Release()
	y, err := b.Alloc(n, n)
	if err != nil {
		return err
	}
	defer y.Release()
	bias, err := b.Alloc(n)
	if err != nil {
		return err
	}
	defer bias.Release()
	return b.Gemm(backend.MatOf(y), backend.MatOf(x), backend.MatOf(x),
		backend.GemmOptions{TransB: true, Bias: bias, Activation: backend.ReLU})
}
