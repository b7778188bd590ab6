package bench

import (
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot draws GFLOP/s against sequence length, one line per op and device, into
// path (.png, .svg or .pdf by its extension). Reports from several devices may be
// drawn together.
func Plot(path string, reports ...Report) error {
	p := plot.New()
	p.Title.Text = "clattn throughput"
	p.X.Label.Text = "sequence length"
	p.Y.Label.Text = "GFLOP/s"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true

	type key struct{ device, series string }
	series := map[key]plotter.XYs{}
	var keys []key
	for _, r := range reports {
		for _, x := range r.Results {
			k := key{r.Device, seriesName(x)}
			if _, ok := series[k]; !ok {
				keys = append(keys, k)
			}
			series[k] = append(series[k], plotter.XY{X: float64(x.Shape.Seq), Y: x.GFLOPs})
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("plot %s: no results to draw", path)
	}
	for i, k := range keys {
		pts := series[k]
		sort.Slice(pts, func(a, b int) bool { return pts[a].X < pts[b].X })
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		c := plotutil.Color(i)
		line.Color, points.Color = c, c
		points.Shape = plotutil.Shape(i)
		if len(reports) > 1 && k.device != reports[0].Device {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(line, points)
		label := k.series
		if len(reports) > 1 {
			label += " (" + k.device + ")"
		}
		p.Legend.Add(label, line, points)
	}
	p.BackgroundColor = color.White
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
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
