package kernels

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func TestSourcePrependsCommon(t *testing.T) {
	files, err := fs.Glob(FS, "*.cl")
	if err != nil || len(files) < 2 {
		t.Fatalf("embedded kernels: %v, %v", files, err)
	}
	for _, f := range files {
		src, err := Source(f)
		if err != nil {
			t.Fatalf("Source(%q): %v", f, err)
		}
		if !strings.HasPrefix(src, "// common.cl") || !strings.Contains(src, "\n#line 1 \""+f+"\"\n") {
			t.Errorf("Source(%q) does not start with common.cl and a #line directive for the file", f)
		}
	}
	if _, err := Source("missing.cl"); err == nil {
		t.Error("Source of a missing file succeeded")
	}
}

// kernelDecl matches a kernel declaration: its name and parameter list.
var kernelDecl = regexp.MustCompile(`(?m)^__kernel\s+(?:__attribute__\(\([^()]*(?:\([^()]*\))?[^()]*\)\)\s*)?void\s+(\w+)\s*\(([^)]*)\)`)

// kernelParams maps each kernel of a file to its __global parameters (the
// buffers it reads and writes), spaces collapsed.
func kernelParams(t *testing.T, file string) map[string]string {
	t.Helper()
	src, err := FS.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, m := range kernelDecl.FindAllStringSubmatch(string(src), -1) {
		var globals []string
		for _, p := range strings.Split(m[2], ",") {
			if p = strings.Join(strings.Fields(p), " "); strings.HasPrefix(p, "__global") {
				globals = append(globals, p)
			}
		}
		params[m[1]] = strings.Join(globals, ", ")
	}
	if n := strings.Count(string(src), "\n__kernel"); n != len(params) {
		t.Fatalf("%s: %d kernels parsed of %d declared", file, len(params), n)
	}
	return params
}

// TestCPUVariants checks the convention for kernels shaped for CPU devices: a
// file X_cpu.cl holds, for kernels k of X.cl, k_cpu with the same buffers
// (launch-shape parameters may differ: a row count, local scratch).
func TestCPUVariants(t *testing.T) {
	files, err := fs.Glob(FS, "*_cpu.cl")
	if err != nil || len(files) < 4 {
		t.Fatalf("CPU variants: %v, %v", files, err)
	}
	for _, f := range files {
		cpu := kernelParams(t, f)
		gpu := kernelParams(t, strings.TrimSuffix(f, "_cpu.cl")+".cl")
		if len(cpu) == 0 {
			t.Errorf("%s declares no kernel", f)
		}
		for name, p := range cpu {
			base, ok := strings.CutSuffix(name, "_cpu")
			if !ok {
				t.Errorf("%s: kernel %s is not named <kernel>_cpu", f, name)
				continue
			}
			if gp, ok := gpu[base]; !ok {
				t.Errorf("%s: %s has no %s in %s", f, name, base, strings.TrimSuffix(f, "_cpu.cl")+".cl")
			} else if gp != p {
				t.Errorf("%s: %s takes (%s), %s takes (%s)", f, name, p, base, gp)
			}
		}
	}
}
