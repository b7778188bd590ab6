package backend

import (
	"errors"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		text string
		want Spec
		str  string
	}{
		{"auto", Spec{Kind: SpecAuto, Index: -1}, "auto"},
		{"  AUTO ", Spec{Kind: SpecAuto, Index: -1}, "auto"},
		{"cpu", Spec{Kind: SpecCPU, Index: -1}, "cpu"},
		{"go", Spec{Kind: SpecCPU, Index: -1}, "cpu"},
		{"opencl", Spec{Kind: SpecOpenCL, Index: -1}, "opencl"},
		{"OpenCL:0", Spec{Kind: SpecOpenCL, Index: 0}, "opencl:0"},
		{"opencl:12", Spec{Kind: SpecOpenCL, Index: 12}, "opencl:12"},
		{"opencl:gpu", Spec{Kind: SpecOpenCL, Index: -1, Type: "gpu"}, "opencl:gpu"},
		{"opencl:CPU", Spec{Kind: SpecOpenCL, Index: -1, Type: "cpu"}, "opencl:cpu"},
		{"opencl:accelerator", Spec{Kind: SpecOpenCL, Index: -1, Type: "accelerator"}, "opencl:accelerator"},
		{"opencl:NVIDIA H100", Spec{Kind: SpecOpenCL, Index: -1, Name: "NVIDIA H100"}, "opencl:NVIDIA H100"},
		{"opencl: pthread ", Spec{Kind: SpecOpenCL, Index: -1, Name: "pthread"}, "opencl:pthread"},
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
		if got, err := ParseSpec(text); !errors.Is(err, ErrArgument) {
			t.Errorf("ParseSpec(%q) = %+v, %v; want an ErrArgument error", text, got, err)
		}
	}
}

func TestParseSpecReadsEnvironment(t *testing.T) {
	t.Setenv(SpecEnv, "opencl:gpu")
	got, err := ParseSpec("")
	if err != nil || got != (Spec{Kind: SpecOpenCL, Index: -1, Type: "gpu"}) {
		t.Errorf("ParseSpec(\"\") with %s=opencl:gpu = %+v, %v", SpecEnv, got, err)
	}
	got, err = ParseSpec("cpu")
	if err != nil || got.Kind != SpecCPU {
		t.Errorf("an explicit spec must win over %s: %+v, %v", SpecEnv, got, err)
	}
	t.Setenv(SpecEnv, "")
	if got, err := ParseSpec(" "); err != nil || got.Kind != SpecAuto {
		t.Errorf("ParseSpec(\" \") without %s = %+v, %v; want auto", SpecEnv, got, err)
	}
}
