package clattn

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeExamples: every example the README's table lists exists in the file
// it names, so that a reader sent there finds it (go doc does not print examples).
func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| [^|]+ \\| (`Example\\w+`(?:, `Example\\w+`)*) \\| (`[\\w/]+\\.go`|same) \\|$")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	if len(rows) == 0 {
		t.Fatal("README.md has no table of examples")
	}
	file := ""
	for _, r := range rows {
		if r[2] != "same" {
			file = strings.Trim(r[2], "`")
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("README.md sends readers of %s to %s: %v", r[1], file, err)
			continue
		}
		for _, name := range regexp.MustCompile(`Example\w+`).FindAllString(r[1], -1) {
			if !strings.Contains(string(src), "func "+name+"()") {
				t.Errorf("README.md lists %s in %s, which has no such function", name, file)
			}
		}
	}
}
