package gpuoffline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/kernels"
)

// MinH100Warps is the occupancy below which a kernel is flagged: 16 resident
// warps per SM (25%), too few to hide memory latency.
const MinH100Warps = 16

// Row is one kernel of one program built for one target.
type Row struct {
	Profile, File, Options, Target string
	GroupSize                      int
	Usage                          Usage
	H100                           Occupancy // sm_90 only
	Loop                           LoopMix   // sm_90 only; Instructions 0 where no loop holds an FFMA
	// Problems are what fails the run (spills, local memory over the limit);
	// Flags what deserves a look (low occupancy, a stack frame).
	Problems, Flags []string
}

// Build compiles every program of p for p's targets in scratch (a folder)
// and returns a row per launched kernel and target. A compile error is
// returned at once.
func Build(tools Tools, scratch string, p Profile, programs []gpu.ProgramBuild) ([]Row, error) {
	var rows []Row
	for _, prog := range programs {
		src, err := kernels.Source(prog.File)
		if err != nil {
			return nil, err
		}
		for _, target := range p.Targets {
			dir, err := os.MkdirTemp(scratch, "build-")
			if err != nil {
				return nil, err
			}
			b, err := tools.Compile(dir, src, prog.Options, target)
			if err != nil {
				return nil, fmt.Errorf("%s %s for %s (%s profile): %w", prog.File, prog.Options, target.Name, p.Name, err)
			}
			for _, k := range prog.Kernels {
				u, ok := find(b.Usages, k.Name)
				if !ok {
					return nil, fmt.Errorf("%s %s for %s: the compiler reported no kernel %s", prog.File, prog.Options, target.Name, k.Name)
				}
				r := Row{Profile: p.Name, File: prog.File, Options: prog.Options, Target: target.Name,
					GroupSize: k.GroupSize, Usage: u}
				if target.NVIDIA {
					r.H100 = H100.Occupancy(u.Registers, u.LocalMem, max(k.GroupSize, 1))
					if mix, ok := HottestLoop(kernelSASS(b.SASS, k.Name)); ok {
						r.Loop = mix
					}
				}
				r.judge(target)
				rows = append(rows, r)
			}
			_ = os.RemoveAll(dir)
		}
	}
	return rows, nil
}

func find(us []Usage, kernel string) (Usage, bool) {
	for _, u := range us {
		if u.Kernel == kernel {
			return u, true
		}
	}
	return Usage{}, false
}

// kernelSASS is the part of cuobjdump's output for one function.
func kernelSASS(sass, kernel string) string {
	parts := strings.Split(sass, "Function : ")
	for _, p := range parts[1:] {
		if name, _, _ := strings.Cut(p, "\n"); strings.TrimSpace(name) == kernel {
			return p
		}
	}
	return ""
}

func (r *Row) judge(t Target) {
	if r.Usage.Spills > 0 {
		r.Problems = append(r.Problems, "spills")
	}
	if r.Usage.LocalMem > t.LocalLimit {
		r.Problems = append(r.Problems, fmt.Sprintf("local memory %d > %d", r.Usage.LocalMem, t.LocalLimit))
	}
	if r.Usage.StackFrame > 0 {
		r.Flags = append(r.Flags, "stack frame")
	}
	if t.NVIDIA && r.GroupSize > 0 && r.H100.Warps < MinH100Warps {
		r.Flags = append(r.Flags, fmt.Sprintf("occupancy < %d warps (%s)", MinH100Warps, r.H100.Limiter))
	}
}

// WriteTable writes rows as an aligned table with a legend.
func WriteTable(w io.Writer, rows []Row) error {
	fmt.Fprintln(w, "Columns: regs = registers per work-item (NVIDIA) or VGPRs/SGPRs (AMD); spill = bytes of spill")
	fmt.Fprintln(w, "stores+loads (NVIDIA) or spilled registers (AMD); stack = bytes of per-work-item stack frame or")
	fmt.Fprintln(w, "scratch; local = __local bytes per work-group; group = work-items per group as launched (- = the")
	fmt.Fprintln(w, "driver's choice); occupancy = resident warps per H100 SM of 64 (limiter) or the AMD compiler's waves")
	fmt.Fprintln(w, "per SIMD; ffma = FFMA share of the hottest inner loop's SASS instructions (FFMA/all).")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "profile\tfile\tkernel\ttarget\tregs\tspill\tstack\tlocal\tgroup\toccupancy\tffma\tnotes\toptions")
	for _, r := range rows {
		regs := fmt.Sprint(r.Usage.Registers)
		occ := fmt.Sprintf("%d waves/SIMD", r.Usage.Occupancy)
		ffma := "-"
		if r.Usage.SGPRs > 0 {
			regs = fmt.Sprintf("%d/%d", r.Usage.Registers, r.Usage.SGPRs)
		}
		if strings.HasPrefix(r.Target, "sm_") {
			occ = "-"
			if r.GroupSize > 0 {
				occ = fmt.Sprintf("%d warps %.0f%% (%s)", r.H100.Warps, r.H100.Percent(H100), r.H100.Limiter)
			}
			if r.Loop.Instructions > 0 {
				ffma = fmt.Sprintf("%.0f%% (%d/%d)", r.Loop.Share(), r.Loop.FFMA, r.Loop.Instructions)
			}
		}
		group := "-"
		if r.GroupSize > 0 {
			group = fmt.Sprint(r.GroupSize)
		}
		notes := strings.Join(append(append([]string{}, r.Problems...), r.Flags...), "; ")
		if notes == "" {
			notes = "ok"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Profile, r.File, r.Usage.Kernel,
			r.Target, regs, r.Usage.Spills, r.Usage.StackFrame, r.Usage.LocalMem, group, occ, ffma, notes, r.Options)
	}
	return tw.Flush()
}

// WriteFile writes the table to path through a temporary file in the same
// folder, renamed over path once complete.
func WriteFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
