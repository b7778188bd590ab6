package main

import "github.com/clattn/clattn/internal/outfile"

// checkOutput rejects an output path that cannot be written (one of inputs,
// not a regular file, a missing or read-only folder) before the work that
// makes it; an empty path, no output, passes.
func checkOutput(path string, inputs ...string) error {
	if path == "" {
		return nil
	}
	return outfile.CheckFile(path, inputs...)
}
