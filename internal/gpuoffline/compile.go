package gpuoffline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Target is one GPU a program is built for.
type Target struct {
	Name   string // "sm_90", "gfx90a", ...
	NVIDIA bool   // built through PTX and ptxas; otherwise amdgcn
	// LocalLimit is the __local memory one work-group may use on that device's
	// OpenCL: 48 KB on NVIDIA, 64 KB on AMD.
	LocalLimit int
}

// Targets are the GPUs every program is built for: the H100, AMD's MI200
// (CDNA2) and MI300 (CDNA3) and a Radeon RX 6000 (RDNA2).
var Targets = []Target{
	{Name: "sm_90", NVIDIA: true, LocalLimit: 48 << 10},
	{Name: "gfx90a", LocalLimit: 64 << 10},
	{Name: "gfx940", LocalLimit: 64 << 10},
	{Name: "gfx1030", LocalLimit: 64 << 10},
}

// Tools are the compilers' paths.
type Tools struct {
	Clang, Ptxas, Cuobjdump string
	// LibclcNVPTX and LibclcAMDGCN are libclc's builtins (Debian libclc-15).
	LibclcNVPTX, LibclcAMDGCN string
}

// FindTools looks for clang-15 and libclc on the system and for ptxas and
// cuobjdump on PATH or under cudaDir/usr/bin (where scripts/gpu-offline.sh
// unpacks them). The error names every missing tool and how to get it.
func FindTools(cudaDir string) (Tools, error) {
	var t Tools
	var missing []string
	look := func(name, hint string, dirs ...string) string {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		missing = append(missing, fmt.Sprintf("%s (%s)", name, hint))
		return ""
	}
	nvidiaHint := "in Debian's non-free nvidia-cuda-toolkit .deb: scripts/gpu-offline.sh fetches it"
	t.Clang = look("clang-15", "apt-get install clang-15")
	t.Ptxas = look("ptxas", nvidiaHint, filepath.Join(cudaDir, "usr", "bin"))
	t.Cuobjdump = look("cuobjdump", nvidiaHint, filepath.Join(cudaDir, "usr", "bin"))
	file := func(p, hint string) string {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", p, hint))
			return ""
		}
		return p
	}
	t.LibclcNVPTX = file("/usr/lib/clc/nvptx64--nvidiacl.bc", "apt-get install libclc-15")
	t.LibclcAMDGCN = file("/usr/lib/clc/amdgcn--amdhsa.bc", "apt-get install libclc-15")
	if len(missing) > 0 {
		return t, fmt.Errorf("missing: %s", strings.Join(missing, "; "))
	}
	return t, nil
}

// Compiled is one program compiled for one target.
type Compiled struct {
	Usages []Usage
	// SASS is cuobjdump's disassembly (NVIDIA only).
	SASS string
}

// Compile builds source with OpenCL build options for target, in dir (a
// scratch folder), and returns what the compiler reports per kernel. Any
// compiler error is returned with its output.
func (t Tools) Compile(dir, source, options string, target Target) (Compiled, error) {
	src := filepath.Join(dir, "program.cl")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		return Compiled{}, err
	}
	opts := strings.Fields(options)
	common := []string{"-cl-std=CL1.2", "-O3", "-Wno-everything"}
	if target.NVIDIA {
		ptx := filepath.Join(dir, "program.ptx")
		// clang 15 knows nvptx up to sm_86; ptxas assembles that PTX for sm_90.
		args := append([]string{"-target", "nvptx64-nvidia-nvcl", "-march=sm_80", "-S", "-o", ptx,
			"-Xclang", "-mlink-builtin-bitcode", "-Xclang", t.LibclcNVPTX}, common...)
		if _, err := run(t.Clang, append(append(args, opts...), src)...); err != nil {
			return Compiled{}, err
		}
		cubin := filepath.Join(dir, "program.cubin")
		out, err := run(t.Ptxas, "-arch="+target.Name, "-v", "-o", cubin, ptx)
		if err != nil {
			return Compiled{}, err
		}
		usages, err := ParsePtxas(out)
		if err != nil {
			return Compiled{}, err
		}
		sass, err := run(t.Cuobjdump, "-sass", cubin)
		if err != nil {
			return Compiled{}, err
		}
		return Compiled{Usages: usages, SASS: sass}, nil
	}
	args := append([]string{"-target", "amdgcn-amd-amdhsa", "-mcpu=" + target.Name, "-nogpulib", "-c",
		"-o", filepath.Join(dir, "program.o"), "-Xclang", "-mlink-builtin-bitcode", "-Xclang", t.LibclcAMDGCN,
		"-Rpass-analysis=kernel-resource-usage"}, common...)
	out, err := run(t.Clang, append(append(args, opts...), src)...)
	if err != nil {
		return Compiled{}, err
	}
	usages, err := ParseAMDRemarks(out)
	return Compiled{Usages: usages}, err
}

// run runs a tool and returns its combined output; a failure carries it.
func run(name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return out.String(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
		}
		return out.String(), err
	}
	return out.String(), nil
}
