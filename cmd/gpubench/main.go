// Command gpubench runs clattn's Transformer building blocks on the best device
// it finds, checks them against the pure-Go reference and measures them.
//
//	gpubench                    the main job: every device checked and timed, a one-screen summary
//	gpubench help [COMMAND]     the commands, or one command's flags (also -h, --help)
//	gpubench devices [--json]   every OpenCL device and the cpu backend, with the spec selecting each
//	gpubench verify             every op on a device against the float64 oracle: PASS/FAIL table
//	gpubench bench              benchmarks: table, --json, --csv, --plot
//	gpubench plot               saved bench results of several devices in one picture
//	gpubench golden FILE...     PyTorch golden cases on a device
//	gpubench run                a layer or stack with PyTorch weights on safetensors inputs
//	gpubench embed              sentence embeddings from a Hugging Face BERT-family folder
//	gpubench generate           greedy decoding with a Hugging Face Llama/Mistral/Qwen2 checkpoint folder
//	gpubench random-model       a checkpoint folder of real shapes (Llama-3.2-1B's) with random weights
//	gpubench attn-map           attention heat maps of a layer's heads
//	gpubench explain scaling    why attention divides by sqrt(d_k), measured and drawn
//	gpubench soak               random shapes and masks for a while, each checked against cpu
//	gpubench tune               searches tile sizes for the device and caches the winners
//
// Every command that runs ops takes --device (auto, cpu, opencl, opencl:N, opencl:gpu, opencl:<name>;
// default $CLATTN_DEVICE or auto). Bad flags exit 2 with usage, failures exit 1 with one line.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/clattn/clattn"
)

// command is one subcommand: run parses args and does the work.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

// errUsage marks a bad command line: exit status 2.
var errUsage = errors.New("usage")

// errFailed marks a run whose checks failed after printing their report: exit status 1, no extra line.
var errFailed = errors.New("checks failed")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil { // a bug of ours: one line, never a stack trace
			fmt.Fprintf(stderr, "gpubench: internal error: %v\n", r)
			status = 1
		}
	}()
	name := "main"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		return help(args, stdout, stderr)
	}
	if name == "main" && slices.ContainsFunc(args, isHelpFlag) {
		return help(nil, stdout, stderr)
	}
	if len(args) == 1 && isHelpFlag(args[0]) { // gpubench COMMAND -h: asked for, so on stdout
		return help([]string{name}, stdout, stderr)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "gpubench: unknown command %q\n", name)
		usage(stderr)
		return 2
	}
	err := cmd.run(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errFailed):
		return 1
	}
	fmt.Fprintf(stderr, "gpubench %s: %v\n", name, err)
	return 1
}

// help prints, on stdout, the list of commands and the main job's flags (no
// args) or one command's flags (help COMMAND).
func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 1:
		fmt.Fprintln(stderr, "usage: gpubench help [COMMAND]")
		return 2
	case len(args) == 1:
		cmd, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "gpubench help: unknown command %q\n", args[0])
			usage(stderr)
			return 2
		}
		_ = cmd.run([]string{"-h"}, stdout, stdout) // prints the flags and returns flag.ErrHelp
		return 0
	}
	fmt.Fprintln(stdout, "gpubench runs clattn's Transformer building blocks on this machine's devices,")
	fmt.Fprintln(stdout, "checks them against the float64 oracle and times them.")
	fmt.Fprintln(stdout)
	usage(stdout)
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "The main job (no command):")
	_ = commands["main"].run([]string{"-h"}, stdout, stdout)
	return 0
}

// isHelpFlag reports whether arg asks for help the way the flag package understands it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

// usage lists the commands, one line each.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gpubench [command] [flags]   (no command: the main job)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "'gpubench help COMMAND' (or 'gpubench COMMAND -h') prints a command's flags.")
	fmt.Fprintln(w, "Commands that run ops take --device: auto (the best OpenCL GPU, else cpu), cpu, opencl,")
	fmt.Fprintln(w, "opencl:N, opencl:gpu|cpu|accelerator or opencl:NAME. Without --device, or with auto,")
	fmt.Fprintln(w, "$"+clattn.DeviceEnv+" decides where it is set.")
}

// newFlags makes a FlagSet that reports errors to stderr and returns instead of exiting.
func newFlags(name string, stderr io.Writer, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet("gpubench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gpubench %s %s\n", name, usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning a bad command line into errUsage (the FlagSet has printed why).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// usageErrorf prints a one-line complaint about the command line and returns errUsage.
func usageErrorf(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return errUsage
}
