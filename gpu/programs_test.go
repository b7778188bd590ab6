package gpu

import (
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
)

// TestProgramsListsWhatTheProfileBuilds runs one fused prefill attention (more
// query rows than the decode path takes) as the device itself and as an H100
// (ChooseAs): Programs lists the CPU-shaped kernel first, then flash.cl with
// the H100's tiles and work-group.
func TestProgramsListsWhatTheProfileBuilds(t *testing.T) {
	d := openFirst(t)
	attend := func() {
		t.Helper()
		const seq = decodeMaxRows + 1
		q, err := d.Upload(make([]float32, 2*seq*64), 1, 2, seq, 64)
		if err != nil {
			t.Fatal(err)
		}
		out, err := d.Alloc(1, 2, seq, 64)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := backend.HeadsOf(q)
		o, _ := backend.HeadsOf(out)
		if err := d.Attention(o, h, h, h, backend.AttentionOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := d.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	find := func(file string) (ProgramBuild, bool) {
		for _, p := range d.Programs() {
			if p.File == file {
				return p, true
			}
		}
		return ProgramBuild{}, false
	}

	own := d.Profile()
	attend()
	if own.CPUKernels {
		if _, ok := find("flash_cpu.cl"); !ok {
			t.Fatalf("the CPU-shaped attention is not listed: %+v", d.Programs())
		}
	}
	if _, ok := find("flash.cl"); ok && own.CPUKernels {
		t.Fatalf("flash.cl listed before any GPU path ran: %+v", d.Programs())
	}

	restore := d.ChooseAs(H100)
	attend()
	restore()
	p, ok := find("flash.cl")
	if !ok {
		t.Fatalf("flash.cl not listed after an attention as an H100: %+v", d.Programs())
	}
	if !strings.Contains(p.Options, "-DBM=64") || !strings.Contains(p.Options, "-DDKP=64") {
		t.Errorf("flash.cl options %q, want the H100's 64-row tiles at head dim 64", p.Options)
	}
	if len(p.Kernels) != 1 || p.Kernels[0].Name != "flash_attention" || p.Kernels[0].GroupSize != 256 {
		t.Errorf("flash.cl kernels %+v, want flash_attention on 16x16 work-items", p.Kernels)
	}
	if d.Profile() != own {
		t.Errorf("restore left profile %+v, want %+v", d.Profile(), own)
	}
}
