package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/internal/sysmem"
)

func init() {
	register("tune", "searches tile sizes for the device and caches the winners", cmdTune)
}

func cmdTune(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tune", stderr, "[--device D] [--budget 60s] [--cache FILE] [--size N] [--seq N]")
	device := fs.String("device", "", "OpenCL device spec (default $CLATTN_DEVICE or auto)")
	budget := fs.Duration("budget", time.Minute, "time for the search (Go duration: 30s, 2m); the defaults are always measured")
	cache := fs.String("cache", "", "tuning cache file (default $"+gpu.TuningCacheEnv+", else clattn/tuning.json in the user cache folder)")
	size := fs.Int("size", 1024, "M = N = K of the timed GEMM (halved on a slow device)")
	seq := fs.Int("seq", 1024, "sequence length of the timed attention, 8 heads of dim 64 (halved on a slow device)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *budget <= 0 {
		return usageErrorf(fs, "--budget %v: want > 0", *budget)
	}
	if *size < 1 || *seq < 1 {
		return usageErrorf(fs, "--size %d, --seq %d: want >= 1", *size, *seq)
	}
	path := *cache
	if path == "" {
		p, err := gpu.DefaultTuningCachePath()
		if err != nil {
			return err
		}
		if p == "" {
			return fmt.Errorf("$%s is off: give --cache FILE", gpu.TuningCacheEnv)
		}
		path = p
	}
	// Read the cache and try its folder before tuning: a file that is not a
	// cache, or one that cannot be written, is refused and left alone.
	saved, err := gpu.LoadTuningCache(path)
	if err == nil {
		err = gpu.CheckTuningCachePath(path)
	}
	if err != nil {
		return fmt.Errorf("%w; remove it or give another --cache", err)
	}
	b, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	d, ok := b.(*gpu.Device)
	if !ok {
		return fmt.Errorf("tune needs an OpenCL device, not the %s backend (try --device opencl)", b.Name())
	}
	// The timed GEMM (a, b, c) and attention (q, k, v, out; 8 heads of dim
	// 64), each on the device and as a host copy.
	timed := [][]int{{3, *size, *size}, {4, 8, *seq, 64}}
	what := fmt.Sprintf("tune --size %d --seq %d", *size, *seq)
	if err := sysmem.Check(what, 0, append(timed, timed...)...); err != nil {
		return err
	}
	if err := sysmem.Check(what, int(d.Info().GlobalMem/4), timed...); err != nil {
		return err
	}
	if err := d.TuningCacheError(); err != nil { // e.g. tiles out of range: tuning replaces the entry
		fmt.Fprintf(stderr, "gpubench tune: warning: %v\n", err)
	}
	info := d.Info()
	fmt.Fprintf(stdout, "tune: %s (driver %s), budget %v\n", d.Name(), info.DriverVersion, *budget)

	kernel := ""
	res, err := gpu.Tune(d, gpu.TuneOptions{Budget: *budget, GemmSize: *size, Seq: *seq,
		Progress: func(c gpu.TuneCandidate) {
			if c.Kernel != kernel {
				kernel = c.Kernel
				fmt.Fprintf(stdout, "%s %s:\n", c.Kernel, c.Shape)
			}
			printCandidate(stdout, c)
		}})
	if err != nil {
		return err
	}
	printWinners(stdout, res)

	saved.Store(info, res.Tuning)
	if err := gpu.SaveTuningCache(path, saved); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved to %s as %q: %s\n", path, gpu.TuningKey(info), cacheUse(path))
	return nil
}

// cacheUse says whether clattn.Open (and so gpubench) will read the cache at path,
// and how to make it where it will not.
func cacheUse(path string) string {
	def, err := gpu.DefaultTuningCachePath()
	if err == nil && def != "" && sameFile(def, path) {
		return "clattn.Open and gpubench use these tiles on this device"
	}
	how := fmt.Sprintf("set %s=%s to use these tiles", gpu.TuningCacheEnv, path)
	switch {
	case err != nil:
		return fmt.Sprintf("clattn.Open finds no default cache (%v): %s", err, how)
	case def == "":
		return fmt.Sprintf("clattn.Open reads no cache while %s=off: %s", gpu.TuningCacheEnv, how)
	}
	return fmt.Sprintf("clattn.Open reads %s, not this file: %s", def, how)
}

// sameFile reports whether paths a and b name the same file, by absolute path.
func sameFile(a, b string) bool {
	aa, errA := filepath.Abs(a)
	ab, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == ab
}

// printCandidate prints one line: the tiling, then its time and rate or why it was discarded.
func printCandidate(w io.Writer, c gpu.TuneCandidate) {
	name := c.Tiles
	if c.Default {
		name += " (default)"
	}
	if c.Err != nil {
		fmt.Fprintf(w, "  %-52s discarded: %v\n", name, oneLine(c.Err.Error()))
		return
	}
	fmt.Fprintf(w, "  %-52s %9.3f ms %8.1f GFLOP/s\n", name, float64(c.Time)/float64(time.Millisecond), c.GFLOPs)
}

// printWinners prints each kernel's winner against its default, and the candidates the budget left out.
func printWinners(w io.Writer, res gpu.TuneResult) {
	skipped := 0
	for _, c := range res.Candidates {
		if c.Skipped {
			skipped++
		}
	}
	if res.Gemm.Default && res.Attention.Default {
		fmt.Fprintln(w, "winners:")
	} else {
		// Tune times a winner other than the default again, alternately with
		// the default, and keeps each one's fastest run: those rates replace the
		// ones listed above, which a busy device can have slowed.
		fmt.Fprintln(w, "winners (each re-timed alternately with its default, best run kept; the rates above are the first timing):")
	}
	for _, win := range []gpu.TuneCandidate{res.Gemm, res.Attention} {
		line := fmt.Sprintf("  %-10s %-52s %8.1f GFLOP/s", win.Kernel, win.Tiles, win.GFLOPs)
		if def, ok := defaultOf(res, win.Kernel); ok && !win.Default {
			line += fmt.Sprintf("  (default %.1f GFLOP/s, %.2fx)", def.GFLOPs, float64(def.Time)/float64(win.Time))
		} else if win.Default {
			line += "  (the default)"
		}
		fmt.Fprintln(w, line)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "%d candidates not tried: the budget was spent (--budget)\n", skipped)
	}
}

// defaultOf is the timed default candidate of kernel.
func defaultOf(res gpu.TuneResult, kernel string) (gpu.TuneCandidate, bool) {
	for _, c := range res.Candidates {
		if c.Kernel == kernel && c.Default {
			return c, c.Err == nil && c.Time > 0
		}
	}
	return gpu.TuneCandidate{}, false
}
