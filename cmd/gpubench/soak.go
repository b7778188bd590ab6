package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/internal/soak"
	"github.com/clattn/clattn/internal/stress"
)

func init() {
	register("soak", "random shapes and masks for a while, each result checked against the cpu backend", cmdSoak)
}

func cmdSoak(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("soak", stderr, "[--duration D] [--device D] [--seed S] [--quiet]")
	duration := fs.Duration("duration", time.Minute, "how long to run (Go duration: 30s, 10m)")
	device := fs.String("device", "", "device spec (default $CLATTN_DEVICE or auto)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed runs the same cases")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *duration <= 0 {
		return usageErrorf(fs, "--duration %v: want > 0", *duration)
	}
	b, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	ref := cpuref.New()
	defer ref.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	opt := soak.Options{Seed: *seed}
	if !*quiet {
		opt.Progress = stderr
	}
	fmt.Fprintf(stdout, "soak: %s against %s for %v, seed %d\n", b.Name(), ref.Name(), *duration, *seed)
	if b.Name() == ref.Name() {
		fmt.Fprintln(stdout, "soak: the device is the reference backend itself: this checks only that every case runs")
	}
	r := soak.Run(ctx, b, ref, opt)
	printSoak(stdout, r)
	if !r.OK() {
		return errFailed
	}
	return nil
}

// printSoak prints ops run and mismatches per op with the largest error, alone
// and as a fraction of its element's cap, then the failures and a summary.
func printSoak(w io.Writer, r soak.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OP\tRUNS\tMISMATCHES\tMAX ABS\tMAX / CAP")
	for _, st := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3g\t%.3g\n", st.Op, st.Runs, st.Mismatches, st.MaxAbs, st.MaxRatio)
	}
	tw.Flush()
	for _, f := range r.Failures {
		fmt.Fprintf(w, "MISMATCH %s\n", oneLine(f))
	}
	if n := r.Mismatches - len(r.Failures); n > 0 {
		fmt.Fprintf(w, "... and %d more mismatches\n", n)
	}
	fmt.Fprintf(w, "%d ops in %.1f s, %d mismatches (cap: %g x the elementwise tolerance, reference %s)\n",
		r.Runs, r.Elapsed.Seconds(), r.Mismatches, float64(stress.Relax), r.Reference)
}
