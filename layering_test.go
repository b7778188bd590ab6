package clattn

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/clattn/clattn"

// TestLayering keeps the packages in their rooms (README, "Architecture"):
// backend is the interface and depends on no other package of the module;
// the implementations (cpuref, gpu) know only backend and shared helpers, not
// each other; every library package but this front door is written against
// backend.Backend, never an implementation, except the OpenCL tooling of
// internal/gpuoffline, which may use gpu. Dependencies are transitive and
// exclude tests (which may compare backends); commands may use everything.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.Name}} {{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	in := func(pkg, room string) bool { return pkg == module+room || strings.HasPrefix(pkg, module+room+"/") }
	seen := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		name, pkg, deps := fields[0], fields[1], fields[2:]
		seen++
		var banned []string // rooms pkg may not depend on
		switch {
		case pkg == module || name == "main":
			continue // the front door and the commands may use everything
		case in(pkg, "/backend"):
			banned = []string{"/cpuref", "/gpu", "/model", "/golden", "/bench"}
		case in(pkg, "/gpu") || in(pkg, "/internal/gpuoffline"):
			banned = []string{"/cpuref"}
		case in(pkg, "/cpuref"):
			banned = []string{"/gpu"}
		default:
			banned = []string{"/cpuref", "/gpu"}
		}
		for _, d := range deps {
			if d == module {
				t.Errorf("%s depends on the front door %s", pkg, module)
			}
			for _, room := range banned {
				if in(d, room) {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
		if pkg == module+"/backend" {
			for _, d := range deps {
				if strings.HasPrefix(d, module+"/") {
					t.Errorf("backend, the interface, depends on %s", d)
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list listed %d packages:\n%s", seen, out)
	}
}
