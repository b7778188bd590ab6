package main

import (
	"fmt"
	"io"
	"os"

	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/internal/outfile"
)

func init() {
	register("plot", "draw saved bench results (--json files) of several devices in one picture", cmdPlot)
}

// cmdPlot overlays reports written by `gpubench bench --json`, one line per op and
// device, so devices (a GPU, PoCL, the cpu backend) compare in one picture.
func cmdPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot", stderr, "--out FILE.png REPORT.json...")
	out := fs.String("out", "", "the picture to write (.png, .svg or .pdf)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf(fs, "--out is required")
	}
	if fs.NArg() == 0 {
		return usageErrorf(fs, "no report files (write them with gpubench bench --json)")
	}
	if err := outfile.CheckFile(*out, fs.Args()...); err != nil {
		return err
	}
	if _, err := bench.PlotFormat(*out); err != nil {
		return usageErrorf(fs, "--out: %v", err)
	}
	reports := make([]bench.Report, 0, fs.NArg())
	for _, path := range fs.Args() {
		r, err := readBenchReport(path)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	if err := bench.Plot(*out, reports...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d reports drawn into %s\n", len(reports), *out)
	return nil
}

// readBenchReport reads a report of gpubench bench --json, refusing any other file.
func readBenchReport(path string) (bench.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return bench.Report{}, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return bench.Report{}, fmt.Errorf("%s: not a regular file", path)
	}
	r, err := bench.ReadReport(f)
	if err != nil {
		return bench.Report{}, fmt.Errorf("%s: not a gpubench bench --json report: %w", path, err)
	}
	return r, nil
}
