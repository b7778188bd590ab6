package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/clattn/clattn/internal/outfile"
)

// HeatMap is a matrix of weights to draw: Rows x Cols values, row-major; row i
// is drawn i-th from the top, column j j-th from the left.
type HeatMap struct {
	Title          string
	XLabel, YLabel string
	// ScaleLabel names the colour bar's quantity ("attention weight").
	ScaleLabel string
	Rows, Cols int
	Values     []float64
	// Masked, if not nil, has Rows*Cols entries: true where the position is
	// masked out. Those cells are drawn hatched grey whatever their value.
	Masked []bool
	// Max is the value drawn in the scale's top colour; 0 means the largest
	// unmasked value (1 where that is not positive). The scale starts at 0.
	Max float64
}

func (h *HeatMap) check() error {
	if h.Rows <= 0 || h.Cols <= 0 {
		return fmt.Errorf("viz: heat map %q is %d x %d, want both > 0", h.Title, h.Rows, h.Cols)
	}
	if len(h.Values) != h.Rows*h.Cols {
		return fmt.Errorf("viz: heat map %q has %d values for %d x %d", h.Title, len(h.Values), h.Rows, h.Cols)
	}
	if h.Masked != nil && len(h.Masked) != len(h.Values) {
		return fmt.Errorf("viz: heat map %q has %d mask entries for %d values", h.Title, len(h.Masked), len(h.Values))
	}
	if h.Max < 0 || math.IsNaN(h.Max) || math.IsInf(h.Max, 0) {
		return fmt.Errorf("viz: heat map %q has scale maximum %g, want >= 0", h.Title, h.Max)
	}
	return nil
}

func (h *HeatMap) isMasked(i int) bool { return h.Masked != nil && h.Masked[i] }

// scaleMax is the value of the scale's top colour.
func (h *HeatMap) scaleMax() float64 {
	if h.Max > 0 {
		return h.Max
	}
	m := 0.0
	for i, v := range h.Values {
		if !h.isMasked(i) && v > m && !math.IsInf(v, 0) {
			m = v
		}
	}
	if m <= 0 {
		return 1
	}
	return m
}

func (h *HeatMap) anyMasked() bool {
	for i := range h.Masked {
		if h.Masked[i] {
			return true
		}
	}
	return false
}

// dpi is the resolution figures are drawn at: a point is 4/3 pixels.
const dpi = 96

// Figure is a drawn image and where the cells of its heat maps landed.
type Figure struct {
	Image *image.RGBA
	areas []cellArea
}

// cellArea is the pixel rectangle (y down) holding one heat map's cells.
type cellArea struct {
	minX, minY, maxX, maxY float64
	rows, cols             int
}

// Cell is the pixel at the centre of cell (row, col) of heat map m (0 for
// DrawHeatMap, the map's index for DrawGrid); ok is false for no such cell.
func (f *Figure) Cell(m, row, col int) (p image.Point, ok bool) {
	if m < 0 || m >= len(f.areas) {
		return p, false
	}
	a := f.areas[m]
	if row < 0 || row >= a.rows || col < 0 || col >= a.cols {
		return p, false
	}
	x := a.minX + (float64(col)+0.5)/float64(a.cols)*(a.maxX-a.minX)
	y := a.minY + (float64(row)+0.5)/float64(a.rows)*(a.maxY-a.minY)
	return image.Pt(int(x), int(y)), true
}

// EncodePNG writes the image as PNG.
func (f *Figure) EncodePNG(w io.Writer) error {
	return png.Encode(w, f.Image)
}

// WritePNG writes the image as a PNG file through a temporary file renamed
// into place (package internal/outfile): a failure leaves what was at path,
// and a path that is not a regular file or is one of inputs is refused.
func (f *Figure) WritePNG(path string, inputs ...string) error {
	if err := outfile.WriteFile(path, f.EncodePNG, inputs...); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	return nil
}

// canvas is a figure being drawn.
type canvas struct {
	img    *vgimg.Canvas
	dc     draw.Canvas
	height vg.Length
	areas  []cellArea
}

func newCanvas(width, height int) *canvas {
	w, h := vg.Length(width)*72/dpi, vg.Length(height)*72/dpi
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	return &canvas{img: img, dc: dc, height: h}
}

// addArea records where a heat map's data canvas lies, in pixels.
func (c *canvas) addArea(data draw.Canvas, rows, cols int) {
	px := func(l vg.Length) float64 { return float64(l) * dpi / 72 }
	c.areas = append(c.areas, cellArea{
		minX: px(data.Min.X), maxX: px(data.Max.X),
		minY: px(c.height - data.Max.Y), maxY: px(c.height - data.Min.Y),
		rows: rows, cols: cols,
	})
}

func (c *canvas) figure() *Figure {
	src := c.img.Image()
	img, ok := src.(*image.RGBA)
	if !ok {
		img = image.NewRGBA(src.Bounds())
		stddraw.Draw(img, img.Bounds(), src, src.Bounds().Min, stddraw.Src)
	}
	return &Figure{Image: img, areas: c.areas}
}

// sizes are the font sizes and lengths of one kind of figure.
type sizes struct {
	title, label, tick vg.Length
	maxTicks           int
}

var (
	fullSize = sizes{title: 12, label: 11, tick: 9, maxTicks: 12}
	tileSize = sizes{title: 9, label: 8, tick: 7, maxTicks: 6}
)

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(plot.DefaultFont, size),
		Handler: plot.DefaultTextHandler,
	}
}

// DrawHeatMap draws h into a width x height pixel image (0 means 720 x 620):
// the map with its title and axes, a colour bar on the right, and a key for
// masked cells where there are any.
func DrawHeatMap(h HeatMap, width, height int) (*Figure, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	if width <= 0 || height <= 0 {
		width, height = 720, 620
	}
	c := newCanvas(width, height)
	const margin, legendWidth = 8, 96
	mapArea := draw.Crop(c.dc, margin, -(margin + legendWidth), margin, -margin)
	maxV := h.scaleMax()
	data := c.drawMap(mapArea, &h, maxV, fullSize)
	bar := vg.Rectangle{
		Min: vg.Point{X: data.Max.X + 14, Y: data.Min.Y},
		Max: vg.Point{X: data.Max.X + 28, Y: data.Max.Y},
	}
	drawColorBar(c.dc, bar, maxV, h.ScaleLabel, fullSize)
	if h.anyMasked() {
		drawMaskedKey(c.dc, vg.Point{X: bar.Min.X, Y: data.Min.Y - 10}, fullSize)
	}
	return c.figure(), nil
}

// DrawGrid draws every map as a tile of a grid, all on one colour scale (the
// largest Max, or the largest unmasked value), under a title, with one colour
// bar. width and height are the image's size in pixels; 0 picks 300 x 280 per tile.
func DrawGrid(title string, maps []HeatMap, width, height int) (*Figure, error) {
	if len(maps) == 0 {
		return nil, errors.New("viz: no heat maps to draw")
	}
	maxV, masked := 0.0, false
	for i := range maps {
		if err := maps[i].check(); err != nil {
			return nil, err
		}
		maxV = math.Max(maxV, maps[i].scaleMax())
		masked = masked || maps[i].anyMasked()
	}
	cols, rows := gridShape(len(maps))
	const margin, legendWidth, titleHeight = 8, 96, 26
	if width <= 0 || height <= 0 {
		width, height = cols*300+legendWidth*4/3, rows*280+titleHeight*4/3
	}
	c := newCanvas(width, height)
	if title != "" {
		sty := textStyle(fullSize.title)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		c.dc.FillText(sty, vg.Point{X: (c.dc.Min.X + c.dc.Max.X - legendWidth) / 2, Y: c.dc.Max.Y - margin}, title)
	}
	area := draw.Crop(c.dc, margin, -(margin + legendWidth), margin, -(margin + titleHeight))
	tileW := (area.Max.X - area.Min.X) / vg.Length(cols)
	tileH := (area.Max.Y - area.Min.Y) / vg.Length(rows)
	var top, bottom vg.Length = area.Min.Y, area.Max.Y
	for i := range maps {
		r, col := i/cols, i%cols
		tile := draw.Canvas{Canvas: c.dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: area.Min.X + vg.Length(col)*tileW, Y: area.Max.Y - vg.Length(r+1)*tileH},
			Max: vg.Point{X: area.Min.X + vg.Length(col+1)*tileW, Y: area.Max.Y - vg.Length(r)*tileH},
		}}
		data := c.drawMap(draw.Crop(tile, 4, -4, 4, -4), &maps[i], maxV, tileSize)
		top, bottom = max(top, data.Max.Y), min(bottom, data.Min.Y)
	}
	x := area.Max.X + 14
	bar := vg.Rectangle{Min: vg.Point{X: x, Y: bottom}, Max: vg.Point{X: x + 14, Y: top}}
	if top-bottom > 240 { // a tall grid: a bar of one tile's height reads better
		bar.Min.Y = top - 240
	}
	drawColorBar(c.dc, bar, maxV, maps[0].ScaleLabel, fullSize)
	if masked {
		drawMaskedKey(c.dc, vg.Point{X: bar.Min.X, Y: bar.Min.Y - 10}, fullSize)
	}
	return c.figure(), nil
}

// gridShape picks columns and rows for n tiles: nearly square, few empty tiles.
func gridShape(n int) (cols, rows int) {
	first := int(math.Ceil(math.Sqrt(float64(n))))
	cols = first
	for c := first; c <= first+2 && c <= n; c++ {
		if waste := c*((n+c-1)/c) - n; waste < cols*((n+cols-1)/cols)-n {
			cols = c
		}
	}
	return cols, (n + cols - 1) / cols
}

// drawMap draws h with axes into area and returns the canvas its cells fill.
func (c *canvas) drawMap(area draw.Canvas, h *HeatMap, maxV float64, sz sizes) draw.Canvas {
	p := plot.New()
	p.BackgroundColor = nil
	p.Title.Text = h.Title
	p.Title.TextStyle = textStyle(sz.title)
	p.Title.TextStyle.XAlign, p.Title.TextStyle.YAlign = draw.XCenter, draw.YTop
	p.Title.Padding = 6
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Padding = 0
		ax.Label.TextStyle.Font.Size = sz.label
		ax.Tick.Label.Font.Size = sz.tick
		ax.Tick.Length = 3
	}
	p.X.Label.Text, p.Y.Label.Text = h.XLabel, h.YLabel
	p.X.Tick.Marker = integerTicks(sz.maxTicks)
	p.Y.Tick.Marker = integerTicks(sz.maxTicks)
	p.Y.Scale = plot.InvertedScale{Normalizer: plot.LinearScale{}}
	p.Add(&cells{h: h, max: maxV})
	p.X.Min, p.X.Max = -0.5, float64(h.Cols)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(h.Rows)-0.5
	p.Draw(area)
	data := p.DataCanvas(area)
	c.addArea(data, h.Rows, h.Cols)
	return data
}

// integerTicks labels whole positions, with a step of 1, 2 or 5 times a power
// of ten chosen so that there are at most n labels; the first position, 0,
// always has one.
func integerTicks(n int) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		first, last := int(math.Ceil(lo)), int(math.Floor(hi))
		span := last - first
		step := 1
		for k := 1; span/step >= n; k++ {
			step = []int{1, 2, 5}[k%3] * int(math.Pow10(k/3))
		}
		var ticks []plot.Tick
		for v := first; v <= last; v++ {
			t := plot.Tick{Value: float64(v)}
			if v%step == 0 {
				t.Label = strconv.Itoa(v)
			}
			if t.Label != "" || span < 4*n {
				ticks = append(ticks, t)
			}
		}
		return ticks
	})
}

// cells draws the cells of a heat map, masked ones hatched.
type cells struct {
	h   *HeatMap
	max float64
}

// DataRange implements plot.DataRanger: cell (i, j) is centred on (j, i).
func (m *cells) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(m.h.Cols) - 0.5, -0.5, float64(m.h.Rows) - 0.5
}

// Plot implements plot.Plotter.
func (m *cells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	h := m.h
	rect := func(i, j int) vg.Rectangle {
		x0, x1 := trX(float64(j)-0.5), trX(float64(j)+0.5)
		y0, y1 := trY(float64(i)-0.5), trY(float64(i)+0.5)
		return vg.Rectangle{Min: vg.Point{X: min(x0, x1), Y: min(y0, y1)}, Max: vg.Point{X: max(x0, x1), Y: max(y0, y1)}}
	}
	// Cells overlap their neighbours by a hair so that anti-aliasing leaves no seams.
	const overlap = 0.3
	for i := range h.Rows {
		for j := range h.Cols {
			k := i*h.Cols + j
			col := MaskedColor
			if !h.isMasked(k) {
				col = ScaleColor(h.Values[k] / m.max)
			}
			r := rect(i, j)
			r.Max.X += overlap
			r.Min.Y -= overlap
			c.SetColor(col)
			c.Fill(r.Path())
		}
	}
	for i := range h.Rows {
		for j := range h.Cols {
			if h.isMasked(i*h.Cols + j) {
				hatch(c, rect(i, j))
			}
		}
	}
}

// hatchSpacing is the distance between hatch lines, measured along x.
const hatchSpacing = 4

// hatch draws the part inside r of the lines x - y = k*hatchSpacing, so that the
// hatching of neighbouring masked cells joins up.
func hatch(c draw.Canvas, r vg.Rectangle) {
	sty := draw.LineStyle{Color: HatchColor, Width: 0.7}
	lo := math.Ceil(float64(r.Min.X-r.Max.Y) / hatchSpacing)
	hi := math.Floor(float64(r.Max.X-r.Min.Y) / hatchSpacing)
	for k := lo; k <= hi; k++ {
		d := vg.Length(k * hatchSpacing)
		y0 := max(r.Min.Y, r.Min.X-d)
		y1 := min(r.Max.Y, r.Max.X-d)
		if y1 > y0 {
			c.StrokeLine2(sty, y0+d, y0, y1+d, y1)
		}
	}
}

// drawColorBar draws the scale from 0 (bottom) to maxV (top) in r, with ticks and
// their values on the right and label beside them.
func drawColorBar(c draw.Canvas, r vg.Rectangle, maxV float64, label string, sz sizes) {
	const levels = 256
	gradient := image.NewRGBA(image.Rect(0, 0, 1, levels))
	for i := range levels { // row 0 is the top of the bar
		gradient.SetRGBA(0, i, ScaleColor(1-(float64(i)+0.5)/levels))
	}
	c.DrawImage(r, gradient)
	h := r.Max.Y - r.Min.Y
	frame := draw.LineStyle{Color: color.Black, Width: 0.5}
	c.StrokeLines(frame, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min})
	sty := textStyle(sz.tick)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	widest := vg.Length(0)
	for _, t := range scaleTicks(maxV) {
		y := r.Min.Y + h*vg.Length(t.Value/maxV)
		c.StrokeLine2(frame, r.Max.X, y, r.Max.X+3, y)
		c.FillText(sty, vg.Point{X: r.Max.X + 5, Y: y}, t.Label)
		widest = max(widest, sty.Width(t.Label))
	}
	if label != "" {
		ls := textStyle(sz.label)
		ls.Rotation = math.Pi / 2
		ls.XAlign, ls.YAlign = draw.XCenter, draw.YTop
		c.FillText(ls, vg.Point{X: r.Max.X + 9 + widest, Y: (r.Min.Y + r.Max.Y) / 2}, label)
	}
}

// scaleTicks are labelled ticks from 0 to at most maxV: at least 5 of them, the
// largest step of 1, 2, 2.5 or 5 times a power of ten that gives as many.
func scaleTicks(maxV float64) []plot.Tick {
	mag := math.Pow(10, math.Floor(math.Log10(maxV)))
	var step float64
	for _, s := range []float64{5, 2.5, 2, 1, 0.5, 0.25, 0.2, 0.1} {
		if step = s * mag; maxV/step*(1+1e-9) >= 4 {
			break
		}
	}
	decimals := 0
	for f := step; math.Abs(f-math.Round(f)) > 1e-6*f && decimals < 10; f *= 10 {
		decimals++
	}
	var ticks []plot.Tick
	for i := 0; float64(i)*step <= maxV*(1+1e-9); i++ {
		v := float64(i) * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ticks
}

// drawMaskedKey draws a hatched swatch labelled "masked" with its top-left at p.
func drawMaskedKey(c draw.Canvas, p vg.Point, sz sizes) {
	sw := vg.Rectangle{Min: vg.Point{X: p.X, Y: p.Y - 12}, Max: vg.Point{X: p.X + 14, Y: p.Y}}
	c.SetColor(MaskedColor)
	c.Fill(sw.Path())
	hatch(c, sw)
	frame := draw.LineStyle{Color: color.Black, Width: 0.5}
	c.StrokeLines(frame, []vg.Point{sw.Min, {X: sw.Max.X, Y: sw.Min.Y}, sw.Max, {X: sw.Min.X, Y: sw.Max.Y}, sw.Min})
	sty := textStyle(sz.label)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	c.FillText(sty, vg.Point{X: sw.Max.X + 4, Y: (sw.Min.Y + sw.Max.Y) / 2}, "masked")
}
