package main

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"

	"github.com/clattn/clattn"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/outfile"
	"github.com/clattn/clattn/internal/sysmem"
	"github.com/clattn/clattn/viz"
)

func init() {
	register("explain", "explain a concept by measuring it: scaling (why attention divides by sqrt(d_k))", cmdExplain)
}

const explainUsage = "scaling [--plot FILE.png] [--seq N] [--heads N] [--seed N] [--device D]"

func cmdExplain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("explain", stderr, explainUsage)
	plotTo := fs.String("plot", "", "draw entropy and largest weight against d_k into this PNG")
	seq := fs.Int("seq", 128, "queries and keys per head")
	heads := fs.Int("heads", 8, "independent heads (more rows, smoother means)")
	seed := fs.Uint64("seed", 1, "random seed of q and k")
	device := fs.String("device", "", "device spec (default $CLATTN_DEVICE or auto)")
	// The topic may come before or after the flags.
	var topics []string
	for rest := args; ; {
		if err := parse(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		topics, rest = append(topics, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case len(topics) != 1:
		return usageErrorf(fs, "want one topic: scaling")
	case topics[0] != "scaling":
		return usageErrorf(fs, "unknown topic %q: want scaling", topics[0])
	case *seq < 2 || *heads < 1:
		return usageErrorf(fs, "--seq must be >= 2 and --heads >= 1")
	}
	if err := checkOutput(*plotTo); err != nil {
		return err
	}
	// Before any allocation: at d_k 1024, q and k and the weights on the
	// host (the probabilities in float64) and on the device.
	host := [][]int{{4, *heads, *seq, scalingDims[len(scalingDims)-1]}, {4, *heads, *seq, *seq}}
	if err := sysmem.Check(fmt.Sprintf("explain scaling --seq %d --heads %d", *seq, *heads), 0, host...); err != nil {
		return err
	}
	b, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	rows, err := measureScaling(b, *heads, *seq, *seed)
	if err != nil {
		return err
	}
	printScaling(stdout, b.Name(), *heads, *seq, rows)
	if *plotTo != "" {
		if err := plotScaling(*plotTo, *seq, rows); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "plot: %s\n", *plotTo)
	}
	return nil
}

// scalingRow is what softmax does to the scores of one head dimension, with
// scores divided by sqrt(d_k) (index 0) and not (index 1).
type scalingRow struct {
	dk                     int
	scoreStd, entropy, top [2]float64
}

// scalingDims are the head dimensions measured: 4, 8, ..., 1024.
var scalingDims = []int{4, 8, 16, 32, 64, 128, 256, 512, 1024}

// measureScaling draws q and k with unit-variance entries for every d_k and
// measures the scores' spread and the softmax's mean entropy and largest
// weight, scaled (AttentionOptions.Scale 0: 1/sqrt(d_k)) and unscaled (Scale 1).
func measureScaling(b backend.Backend, heads, seq int, seed uint64) ([]scalingRow, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5ca1e))
	var rows []scalingRow
	for _, d := range scalingDims {
		row := scalingRow{dk: d}
		data := make([][]float32, 2)
		for i := range data {
			data[i] = make([]float32, heads*seq*d)
			for j := range data[i] {
				data[i][j] = float32(rng.NormFloat64())
			}
		}
		err := func() (err error) {
			var ts []backend.Tensor
			defer func() {
				for _, t := range ts {
					err = errors.Join(err, t.Release())
				}
			}()
			var hs [2]backend.Heads
			for i := range hs {
				t, err := b.Upload(data[i], 1, heads, seq, d)
				if err != nil {
					return err
				}
				ts = append(ts, t)
				if hs[i], err = backend.HeadsOf(t); err != nil {
					return err
				}
			}
			w, err := b.Alloc(1, heads, seq, seq)
			if err != nil {
				return err
			}
			ts = append(ts, w)
			host := make([]float32, heads*seq*seq)
			for i, opt := range []backend.AttentionOptions{{}, {Scale: 1}} {
				if err := b.Scores(w, hs[0], hs[1], opt.EffectiveScale(d)); err != nil {
					return err
				}
				if err := b.Download(host, w); err != nil {
					return err
				}
				row.scoreStd[i] = stdDev(host)
				if err := b.Softmax(w, w, opt); err != nil {
					return err
				}
				if err := b.Download(host, w); err != nil {
					return err
				}
				p := make([]float64, len(host))
				for j, v := range host {
					p[j] = float64(v)
				}
				row.entropy[i], row.top[i] = viz.MeanEntropy(p, seq), viz.MeanMax(p, seq)
			}
			return nil
		}()
		if err != nil {
			return nil, fmt.Errorf("d_k = %d: %w", d, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func stdDev(x []float32) float64 {
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	for _, v := range x {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	return math.Sqrt(sq / float64(len(x)))
}

func printScaling(w io.Writer, device string, heads, seq int, rows []scalingRow) {
	fmt.Fprintf(w, "Why attention divides q.k by sqrt(d_k), measured on %s:\n", device)
	fmt.Fprintf(w, "%d heads x %d queries x %d keys, q and k with independent unit-variance entries,\n", heads, seq, seq)
	fmt.Fprintln(w, "so a dot product of d_k such terms has variance d_k.")
	fmt.Fprintf(w, "Uniform attention over %d keys has entropy ln %d = %.3f nats and largest weight %.4f.\n\n", seq, seq, math.Log(float64(seq)), 1/float64(seq))
	fmt.Fprintf(w, "%6s  %-17s  %-19s  %-19s\n", "", "score std", "mean entropy (nats)", "mean largest weight")
	fmt.Fprintf(w, "%6s  %8s %8s  %9s %9s  %9s %9s\n", "d_k", "scaled", "unscaled", "scaled", "unscaled", "scaled", "unscaled")
	for _, r := range rows {
		fmt.Fprintf(w, "%6d  %8.3f %8.3f  %9.3f %9.3f  %9.4f %9.4f\n", r.dk,
			r.scoreStd[0], r.scoreStd[1], r.entropy[0], r.entropy[1], r.top[0], r.top[1])
	}
	fmt.Fprintln(w, "\nUnscaled, the scores spread as sqrt(d_k): softmax saturates onto one key (entropy towards 0,")
	fmt.Fprintln(w, "largest weight towards 1) and its gradients vanish. Divided by sqrt(d_k), the scores keep unit")
	fmt.Fprintln(w, "spread and the rows stay equally soft at every d_k.")
}

// plotScaling draws two panels, entropy and largest weight against d_k, with
// a line each for scaled and unscaled scores.
func plotScaling(path string, seq int, rows []scalingRow) error {
	panels := []struct {
		title, ylabel string
		value         func(scalingRow, int) float64
		uniform       float64
	}{
		{"mean softmax entropy", "entropy (nats)", func(r scalingRow, i int) float64 { return r.entropy[i] }, math.Log(float64(seq))},
		{"mean largest weight of a row", "largest weight", func(r scalingRow, i int) float64 { return r.top[i] }, 1 / float64(seq)},
	}
	const wpx, hpx = 1100, 460
	img := vgimg.NewWith(vgimg.UseWH(wpx*72/96, hpx*72/96), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: 20, PadY: 10, PadTop: 10, PadBottom: 10, PadLeft: 10, PadRight: 10}
	for col, panel := range panels {
		p := plot.New()
		p.Title.Text = panel.title
		p.X.Label.Text = "head dimension d_k"
		p.Y.Label.Text = panel.ylabel
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.ConstantTicks(dimTicks())
		p.Add(plotter.NewGrid())
		for i, name := range []string{"q.k / sqrt(d_k) (scaled)", "q.k (unscaled)"} {
			pts := make(plotter.XYs, len(rows))
			for j, r := range rows {
				pts[j] = plotter.XY{X: float64(r.dk), Y: panel.value(r, i)}
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
			line.Width = vg.Points(1.5)
			points.Shape = plotutil.Shape(i)
			p.Add(line, points)
			p.Legend.Add(name, line, points)
		}
		uniform, err := plotter.NewLine(plotter.XYs{{X: float64(rows[0].dk), Y: panel.uniform}, {X: float64(rows[len(rows)-1].dk), Y: panel.uniform}})
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		uniform.Color = color.Gray{Y: 100}
		uniform.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(uniform)
		p.Legend.Add(fmt.Sprintf("uniform over %d keys", seq), uniform)
		// Keep the legend off the lines: below the scaled entropy, above the scaled largest weight.
		p.Legend.Top = col == 0
		p.Legend.YOffs = -50
		if col == 1 {
			p.Legend.YOffs = 50
		}
		p.Y.Min = 0
		if col == 1 {
			p.Y.Max = 1
		}
		p.Draw(tiles.At(dc, col, 0))
	}
	err := outfile.WriteFile(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// dimTicks label every measured d_k.
func dimTicks() []plot.Tick {
	ticks := make([]plot.Tick, len(scalingDims))
	for i, d := range scalingDims {
		ticks[i] = plot.Tick{Value: float64(d), Label: fmt.Sprint(d)}
	}
	return ticks
}
