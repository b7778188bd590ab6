package gpu

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
)

func TestClassOf(t *testing.T) {
	for _, c := range []struct {
		info DeviceInfo
		want DeviceClass
	}{
		{H100, ClassNVIDIA},
		{DeviceInfo{Type: "cpu", Vendor: "GenuineIntel", Platform: "Portable Computing Language"}, ClassCPU},
		{DeviceInfo{Type: "cpu", Vendor: "AuthenticAMD", Platform: "Portable Computing Language"}, ClassCPU},
		{DeviceInfo{Type: "gpu", Vendor: "Advanced Micro Devices, Inc.", Name: "gfx90a"}, ClassAMD},
		{DeviceInfo{Type: "gpu", Vendor: "AMD", Platform: "AMD Accelerated Parallel Processing"}, ClassAMD},
		{DeviceInfo{Type: "gpu", Vendor: "Intel(R) Corporation", Name: "Intel(R) Arc(TM) A770"}, ClassIntel},
		{DeviceInfo{Type: "gpu", Vendor: "Apple", Name: "Apple M2"}, ClassGeneric},
		{DeviceInfo{Type: "gpu", Vendor: "NVIDIA", Platform: "Portable Computing Language", Name: "pocl-cuda"}, ClassNVIDIA},
	} {
		if got := ClassOf(c.info); got != c.want {
			t.Errorf("%s %s %s: class %v, want %v", c.info.Vendor, c.info.Platform, c.info.Name, got, c.want)
		}
	}
	if s := DeviceClass(9).String(); s != "DeviceClass(9)" {
		t.Errorf("unknown class prints %q", s)
	}
}

func TestProfileQuirks(t *testing.T) {
	h := ProfileOf(H100)
	if h.Class != ClassNVIDIA || h.CPUKernels || h.MaxGroupsAboveDim0 != 65535 || !h.SmallGemmTiling || h.LanesPerUnit != 128 {
		t.Errorf("H100: %+v", h)
	}
	cpu := ProfileOf(DeviceInfo{Type: "cpu", LocalMem: 1 << 20, MaxWorkGroupSize: 4096})
	if cpu.Class != ClassCPU || !cpu.CPUKernels || cpu.MaxGroupsAboveDim0 != 0 || cpu.SmallGemmTiling || cpu.LanesPerUnit != 16 ||
		cpu.gemm != gemmConfigCPU || cpu.attention != attentionConfigCPU {
		t.Errorf("CPU: %+v", cpu)
	}
	amd := ProfileOf(DeviceInfo{Type: "gpu", Vendor: "AMD", LocalMem: 64 << 10, MaxWorkGroupSize: 256, MaxWorkItemSizes: []int{256, 256, 256}})
	if amd.gemm != gemmConfigGeneric || amd.attention != attentionConfigNVIDIA || amd.LanesPerUnit != 64 {
		t.Errorf("AMD: %+v", amd)
	}
	// An accelerator of no known vendor counts as CPU cores for the peak.
	if a := ProfileOf(DeviceInfo{Type: "accelerator", Vendor: "FPGA Inc"}); a.Class != ClassGeneric || a.LanesPerUnit != 16 || a.SmallGemmTiling {
		t.Errorf("accelerator: %+v", a)
	}
}

// TestPretendToBeSetsTheProfile checks that a device pretending to be an H100
// takes the H100's profile, and so the launcher's NVIDIA limit of 65535
// work-groups along dimensions 1 and 2; and its own profile back after.
func TestPretendToBeSetsTheProfile(t *testing.T) {
	d := openFirst(t)
	own := d.Profile()
	t.Run("H100", func(t *testing.T) {
		d.PretendToBe(t, H100)
		if p := d.Profile(); p.Class != ClassNVIDIA || p.gemm != gemmConfigNVIDIA {
			t.Fatalf("pretending to be an H100: %+v", p)
		}
		if err := d.enter("test"); err != nil {
			t.Fatal(err)
		}
		defer d.life.RUnlock()
		err := d.launch(launch{op: "test", file: "smoke.cl", kernel: "smoke", global: []int{1, 70000}, local: []int{1, 1}})
		if !errors.Is(err, backend.ErrTooLarge) || !strings.Contains(err.Error(), "65535 that nvidia devices allow") {
			t.Errorf("70000 work-groups along dimension 1: %v", err)
		}
	})
	if p := d.Profile(); p.Class != own.Class || p.gemm != own.gemm {
		t.Errorf("after PretendToBe: %+v, want %+v", p, own)
	}
}

// openFirst opens the first OpenCL device, closed when the test ends.
func openFirst(t *testing.T) *Device {
	t.Helper()
	infos, err := Devices()
	if err != nil || len(infos) == 0 {
		if os.Getenv("CLATTN_REQUIRE_OPENCL") == "1" {
			t.Fatal("no OpenCL device:", err)
		}
		t.Skip("no OpenCL device:", err)
	}
	d, err := OpenDevice(infos[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestClassTableDocumented checks that the table in the comment of
// classProfiles shows the shipped values, so that it cannot go stale.
func TestClassTableDocumented(t *testing.T) {
	src, err := os.ReadFile("profile.go")
	if err != nil {
		t.Fatal(err)
	}
	want := classTable()
	if !strings.Contains(string(src), want) {
		t.Errorf("the table above classProfiles in profile.go is stale; it should read:\n%s", want)
	}
}

// classTable renders classProfiles as the comment lines above it.
func classTable() string {
	rows := [][]string{{"class", "GEMM tile (micro, vectors, unroll)", "fused attention", "attn_bmm (micro)", "softmax", "groups on dims 1-2"}}
	for c, e := range classProfiles {
		g, a := e.gemm, e.attention
		unroll := "full"
		if g.Unroll > 0 {
			unroll = fmt.Sprint(g.Unroll)
		}
		fused := fmt.Sprintf("flash: %d rows, %d keys, %dx%d items", a.BM, a.BN, a.TR, a.TC)
		softmax := fmt.Sprint(a.SoftmaxGroup)
		if a.CPU {
			fused = fmt.Sprintf("flash_cpu: %d rows x %d items, %d keys", a.RB, a.NW, a.KB)
			softmax += " rows"
		}
		groups := "any"
		if e.maxGroupsAboveDim0 > 0 {
			groups = fmt.Sprint(e.maxGroupsAboveDim0)
		}
		rows = append(rows, []string{DeviceClass(c).String(),
			fmt.Sprintf("%dx%dx%d (%dx%d, %d/%d, %s)", g.TM, g.TN, g.TK, g.WPTM, g.WPTN, g.VWN, g.LVW, unroll),
			fused, fmt.Sprintf("%dx%dx%d (%dx%d)", a.TM, a.TN, a.TK, a.RM, a.RN), softmax, groups})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		line := "//\t"
		for i, cell := range r {
			if i < len(r)-1 {
				cell += strings.Repeat(" ", widths[i]-len(cell)+2)
			}
			line += cell
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
