package clattn

import (
	"errors"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		text string
		want Spec
		str  string
	}{
		{"auto", Spec{Kind: SpecAuto, Selector: gpu.Best}, "auto"},
		{"  AUTO ", Spec{Kind: SpecAuto, Selector: gpu.Best}, "auto"},
		{"cpu", Spec{Kind: SpecCPU, Selector: gpu.Best}, "cpu"},
		{"go", Spec{Kind: SpecCPU, Selector: gpu.Best}, "cpu"},
		{"opencl", Spec{Kind: SpecOpenCL, Selector: gpu.Best}, "opencl"},
		{"OpenCL:0", Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: 0}}, "opencl:0"},
		{"opencl:12", Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: 12}}, "opencl:12"},
		{"opencl:gpu", Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Type: "gpu"}}, "opencl:gpu"},
		{"opencl:CPU", Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Type: "cpu"}}, "opencl:cpu"},
		{"opencl:accelerator", Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Type: "accelerator"}}, "opencl:accelerator"},
		{"opencl:NVIDIA H100", Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Name: "NVIDIA H100"}}, "opencl:NVIDIA H100"},
		{"opencl: pthread ", Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Name: "pthread"}}, "opencl:pthread"},
	} {
		got, err := ParseSpec(c.text)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", c.text, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseSpec(%q) = %+v, want %+v", c.text, got, c.want)
		}
		if s := got.String(); s != c.str {
			t.Errorf("ParseSpec(%q).String() = %q, want %q", c.text, s, c.str)
		}
	}
}

func TestParseSpecRejects(t *testing.T) {
	for _, text := range []string{"opencl:", "opencl:  ", "opencl:-1", "opencl:+x", "cuda", "gpu", "openclx", "cpu:0"} {
		if got, err := ParseSpec(text); !errors.Is(err, backend.ErrArgument) {
			t.Errorf("ParseSpec(%q) = %+v, %v; want an ErrArgument error", text, got, err)
		}
	}
}

// TestResolve: where the program leaves the choice open ("" or "auto"),
// $CLATTN_DEVICE wins; an explicit spec wins over the variable; ParseSpec
// reads no environment.
func TestResolve(t *testing.T) {
	t.Setenv(DeviceEnv, "opencl:gpu")
	want := Spec{Kind: SpecOpenCL, Selector: gpu.Selector{Index: -1, Type: "gpu"}}
	for _, text := range []string{"", " ", "auto", "AUTO"} {
		if got, err := Resolve(text); err != nil || got != want {
			t.Errorf("Resolve(%q) with %s=opencl:gpu = %+v, %v; want %+v", text, DeviceEnv, got, err, want)
		}
	}
	for text, kind := range map[string]SpecKind{"cpu": SpecCPU, "opencl": SpecOpenCL} {
		if got, err := Resolve(text); err != nil || got.Kind != kind || got.Type != "" {
			t.Errorf("Resolve(%q): an explicit spec must win over %s: %+v, %v", text, DeviceEnv, got, err)
		}
	}
	if got, err := ParseSpec(""); err != nil || got.Kind != SpecAuto {
		t.Errorf("ParseSpec(\"\") = %+v, %v; want auto whatever %s says", got, err, DeviceEnv)
	}
	t.Setenv(DeviceEnv, " ")
	if got, err := Resolve(""); err != nil || got.Kind != SpecAuto {
		t.Errorf("Resolve(\"\") with a blank %s = %+v, %v; want auto", DeviceEnv, got, err)
	}
	t.Setenv(DeviceEnv, "cuda")
	_, err := Resolve("auto")
	if !errors.Is(err, backend.ErrArgument) || !strings.Contains(err.Error(), "$"+DeviceEnv) {
		t.Errorf("Resolve(auto) with %s=cuda: %v; want an ErrArgument naming the variable", DeviceEnv, err)
	}
	if got, err := Resolve("cpu"); err != nil || got.Kind != SpecCPU {
		t.Errorf("Resolve(cpu) with a bad %s = %+v, %v; the variable is not read", DeviceEnv, got, err)
	}
}
