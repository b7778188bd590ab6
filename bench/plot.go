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
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/clattn/clattn/internal/outfile"
)

// Plot size: the legend takes a column of its own on the right.
const (
	plotWidth  = 11 * vg.Inch
	plotHeight = 6 * vg.Inch
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
// its extension; see WritePlot), written through a temporary file renamed
// into place (package internal/outfile).
func Plot(path string, reports ...Report) error {
	format, err := PlotFormat(path)
	if err != nil {
		return err
	}
	if err := outfile.WriteFile(path, func(w io.Writer) error { return WritePlot(w, format, reports...) }); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// WritePlot draws GFLOP/s against sequence length in format (png, svg or pdf)
// for one report or several devices' reports together. A series (an op and
// the sizes other than the sequence length) keeps its colour and marker across
// reports, and each report has its own line style; the legend, outside the
// data on the right, names each series and each report once. The title names
// the devices and the dates of the runs.
func WritePlot(w io.Writer, format string, reports ...Report) error {
	p := plot.New()
	p.Title.Text = plotTitle(reports, true)
	p.X.Label.Text = "sequence length"
	p.Y.Label.Text = "GFLOP/s"
	p.X.Scale = plot.LogScale{}
	p.Add(plotter.NewGrid())
	p.BackgroundColor = color.White

	type key struct {
		report int
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
		return fmt.Errorf("no results to draw")
	}
	slices.Sort(seqs)
	p.X.Tick.Marker = seqTicks(seqs)
	if len(seqs) == 1 { // a log axis needs a range
		p.X.Min, p.X.Max = seqs[0]/2, seqs[0]*2
	}
	p.Y.Min, p.Y.Max = 0, maxY*1.05

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	colors := seriesColors(len(series))
	for i, name := range series {
		c := colors[i]
		for d := range reports {
			pts, ok := points[key{d, name}]
			if !ok {
				continue
			}
			slices.SortFunc(pts, func(a, b plotter.XY) int { return int(a.X - b.X) })
			line, marks, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			line.Color, marks.Color, marks.Shape = c, c, plotutil.Shape(i)
			line.Dashes = plotutil.Dashes(d)
			p.Add(line, marks)
		}
		swatch, err := plotter.NewScatter(plotter.XYs{{}})
		if err != nil {
			return err
		}
		swatch.Color, swatch.Shape = c, plotutil.Shape(i)
		legend.Add(name, swatch)
	}
	if len(reports) > 1 {
		for d, label := range reportLabels(reports) {
			style := plotter.DefaultLineStyle
			style.Dashes = plotutil.Dashes(d)
			legend.Add(label, &plotter.Line{LineStyle: style})
		}
	}

	canvas, err := draw.NewFormattedCanvas(plotWidth, plotHeight, format)
	if err != nil {
		return err
	}
	// A margin all round; the legend column starts level with the top of the
	// data area, below the title.
	const margin = vg.Length(6)
	dc := draw.Crop(draw.New(canvas), margin, -margin, margin, -margin)
	legendWidth := legendColumnWidth(legend, series, reports)
	if p.Title.TextStyle.Width(p.Title.Text) > dc.Max.X-dc.Min.X-legendWidth { // too long: the legend names the devices
		p.Title.Text = plotTitle(reports, false)
	}
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	top := p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding
	legend.Draw(draw.Crop(dc, dc.Max.X-dc.Min.X-legendWidth+vg.Points(12), 0, 0, -top))
	_, err = canvas.WriteTo(w)
	return err
}

// legendColumnWidth is the width of the legend's column: its widest entry.
func legendColumnWidth(l plot.Legend, series []string, reports []Report) vg.Length {
	widest := vg.Length(0)
	names := slices.Clone(series)
	if len(reports) > 1 {
		names = append(names, reportLabels(reports)...)
	}
	for _, n := range names {
		widest = max(widest, l.TextStyle.Width(n))
	}
	return widest + l.ThumbnailWidth + l.Padding + vg.Points(24)
}

// plotTitle names the devices (or, without names, counts them) and the dates of the runs.
func plotTitle(reports []Report, names bool) string {
	var devices, dates []string
	for _, r := range reports {
		if !slices.Contains(devices, r.Device) {
			devices = append(devices, r.Device)
		}
		if d := r.day(); d != "" && !slices.Contains(dates, d) {
			dates = append(dates, d)
		}
	}
	title := "clattn throughput on " + strings.Join(devices, " and ")
	if len(devices) > 2 || (!names && len(devices) > 1) {
		title = fmt.Sprintf("clattn throughput on %d devices", len(devices))
	}
	if len(reports) > len(devices) {
		title += fmt.Sprintf(" (%d runs)", len(reports))
	}
	if len(dates) > 0 {
		title += ", " + strings.Join(dates, ", ")
	}
	return title
}

// reportLabels name each report in the legend: its device, and where two
// reports share a device, the time of each run (or their order in the list).
func reportLabels(reports []Report) []string {
	labels := make([]string, len(reports))
	for i, r := range reports {
		labels[i] = r.Device
		shared, sameTime := 0, false
		for j, o := range reports {
			if o.Device == r.Device {
				shared++
				sameTime = sameTime || (j != i && o.Date == r.Date)
			}
		}
		switch {
		case shared == 1:
		case r.Date != "" && !sameTime:
			labels[i] += " at " + r.Date
		default:
			labels[i] += fmt.Sprintf(" (report %d)", i+1)
		}
	}
	return labels
}

// day is the date of the run (YYYY-MM-DD), "" where the report has none.
func (r Report) day() string {
	t, err := time.Parse(time.RFC3339, r.Date)
	if err != nil {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// seriesPalette holds well-separated colours, dark enough to read on white.
var seriesPalette = []color.RGBA{
	{0, 90, 200, 255},    // blue
	{230, 120, 0, 255},   // orange
	{0, 150, 60, 255},    // green
	{210, 30, 40, 255},   // red
	{130, 60, 180, 255},  // purple
	{140, 80, 40, 255},   // brown
	{220, 80, 170, 255},  // pink
	{90, 90, 90, 255},    // grey
	{150, 150, 0, 255},   // olive
	{0, 160, 170, 255},   // teal
	{20, 30, 110, 255},   // navy
	{100, 190, 40, 255},  // light green
	{250, 160, 130, 255}, // salmon
	{160, 0, 90, 255},    // plum
}

// seriesColors are n colours for n series: the palette's, then each further
// one the candidate farthest (in RGB) from every colour taken before it, so
// that no two series look alike however many a plot draws.
func seriesColors(n int) []color.RGBA {
	colors := slices.Clone(seriesPalette[:min(n, len(seriesPalette))])
	var candidates []color.RGBA
	for h := 0.0; h < 360; h += 6 {
		candidates = append(candidates, hsv(h, 0.85, 0.85), hsv(h, 0.9, 0.55), hsv(h, 0.45, 0.8))
	}
	dist := func(a, b color.RGBA) int {
		dr, dg, db := int(a.R)-int(b.R), int(a.G)-int(b.G), int(a.B)-int(b.B)
		return dr*dr + dg*dg + db*db
	}
	for len(colors) < n {
		best, bestDist := candidates[0], -1
		for _, c := range candidates {
			nearest := math.MaxInt
			for _, taken := range colors {
				nearest = min(nearest, dist(c, taken))
			}
			if nearest > bestDist {
				best, bestDist = c, nearest
			}
		}
		colors = append(colors, best)
	}
	return colors
}

// hsv converts a hue in degrees, saturation and value in [0, 1] to a colour.
func hsv(h, s, v float64) color.RGBA {
	c := v * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	var r, g, b float64
	switch {
	case h < 60:
		r, g = c, x
	case h < 120:
		r, g = x, c
	case h < 180:
		g, b = c, x
	case h < 240:
		g, b = x, c
	case h < 300:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := v - c
	u8 := func(f float64) uint8 { return uint8(math.Round((f + m) * 255)) }
	return color.RGBA{u8(r), u8(g), u8(b), 255}
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
