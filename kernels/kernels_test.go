package kernels

import (
	"io/fs"
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
