package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/clattn/clattn/internal/outfile"
)

// PlotFormat is the picture format of a plot path by its extension: png, svg
// or pdf. Check it before the work whose results are to be drawn.
func PlotFormat(path string) (string, error) {
	switch f := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), ".")); f {
	case "png", "svg", "pdf":
		return f, nil
	}
	return "", fmt.Errorf("plot %s: want a .png, .svg or .pdf file", path)
}

// Plot draws GFLOP/s against sequence length into path (.png, .svg or .pdf by
// its extension), for one report or several devices' reports together: a series
// keeps its colour and marker across devices, and each device has its own line
// style, so the legend names each series and each device once. The file is
// written through a temporary file renamed into place (package internal/outfile).
func Plot(path string, reports ...Report) error {
	format, err := PlotFormat(path)
	if err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = "clattn throughput"
	p.X.Label.Text = "sequence length"
	p.Y.Label.Text = "GFLOP/s"
	p.X.Scale = plot.LogScale{}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	p.BackgroundColor = color.White

	type key struct {
		device int
		series string
	}
	points := map[key]plotter.XYs{}
	var series []string
	var seqs []float64
	maxY := 0.0
	for d, r := range reports {
		for _, x := range r.Results {
			name := seriesName(x)
			if !slices.Contains(series, name) {
				series = append(series, name)
			}
			seq := float64(x.Shape.Seq)
			if !slices.Contains(seqs, seq) {
				seqs = append(seqs, seq)
			}
			points[key{d, name}] = append(points[key{d, name}], plotter.XY{X: seq, Y: x.GFLOPs})
			maxY = math.Max(maxY, x.GFLOPs)
		}
	}
	if len(points) == 0 {
		return fmt.Errorf("plot %s: no results to draw", path)
	}
	slices.Sort(seqs)
	p.X.Tick.Marker = seqTicks(seqs)
	if len(seqs) == 1 { // a log axis needs a range
		p.X.Min, p.X.Max = seqs[0]/2, seqs[0]*2
	}
	// Room above the data for the legend.
	p.Y.Min, p.Y.Max = 0, maxY*(1.25+0.06*float64(len(series)+len(reports)))

	for i, name := range series {
		c := plotutil.Color(i)
		for d := range reports {
			pts, ok := points[key{d, name}]
			if !ok {
				continue
			}
			slices.SortFunc(pts, func(a, b plotter.XY) int { return int(a.X - b.X) })
			line, marks, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			line.Color, marks.Color, marks.Shape = c, c, plotutil.Shape(i)
			line.Dashes = plotutil.Dashes(d)
			p.Add(line, marks)
		}
		swatch, err := plotter.NewScatter(plotter.XYs{{}})
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		swatch.Color, swatch.Shape = c, plotutil.Shape(i)
		p.Legend.Add(name, swatch)
	}
	if len(reports) > 1 {
		for d, r := range reports {
			style := plotter.DefaultLineStyle
			style.Dashes = plotutil.Dashes(d)
			p.Legend.Add(r.Device, &plotter.Line{LineStyle: style})
		}
	}
	picture, err := p.WriterTo(9*vg.Inch, 6*vg.Inch, format)
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	err = outfile.WriteFile(path, func(w io.Writer) error {
		_, err := picture.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// seqTicks labels exactly the sequence lengths measured.
type seqTicks []float64

func (s seqTicks) Ticks(min, max float64) []plot.Tick {
	ticks := make([]plot.Tick, 0, len(s))
	for _, v := range s {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// seriesName groups results that differ only in sequence length.
func seriesName(r Result) string {
	s := r.Shape
	switch r.Op {
	case OpGemm:
		return fmt.Sprintf("gemm n=%d k=%d", s.DFF, s.DModel)
	case OpScores, OpSoftmax, OpUnfused, OpAttention:
		name := fmt.Sprintf("%s b=%d h=%d d=%d", r.Op, s.Batch, s.Heads, s.HeadDim)
		if s.Causal {
			name += " causal"
		}
		return name
	}
	return fmt.Sprintf("%s d_model=%d", r.Op, s.DModel)
}
