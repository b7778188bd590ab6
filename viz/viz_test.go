package viz

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// grey reports whether c is a shade of grey, as masked cells are and no colour
// of the scale is.
func grey(c color.RGBA) bool {
	d := func(a, b uint8) int { return max(int(a)-int(b), int(b)-int(a)) }
	return d(c.R, c.G) <= 3 && d(c.G, c.B) <= 3
}

func luminance(c color.RGBA) float64 {
	return 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
}

func TestDrawHeatMapSizeAndPNG(t *testing.T) {
	h := HeatMap{Title: "t", XLabel: "key", YLabel: "query", Rows: 3, Cols: 5, Values: make([]float64, 15)}
	f, err := DrawHeatMap(h, 400, 300)
	require.NoError(t, err)
	require.Equal(t, 400, f.Image.Bounds().Dx())
	require.Equal(t, 300, f.Image.Bounds().Dy())
	var buf bytes.Buffer
	require.NoError(t, f.EncodePNG(&buf))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, f.Image.Bounds(), img.Bounds())

	f, err = DrawHeatMap(h, 0, 0)
	require.NoError(t, err)
	require.Equal(t, 720, f.Image.Bounds().Dx())
	require.Equal(t, 620, f.Image.Bounds().Dy())
}

func TestMaskedCellsAreGrey(t *testing.T) {
	// Row 0 sees key 0 only (causal); row 1 sees both.
	h := HeatMap{Rows: 2, Cols: 2, Values: []float64{1, 0, 0.4, 0.6}, Masked: []bool{false, true, false, false}}
	f, err := DrawHeatMap(h, 300, 300)
	require.NoError(t, err)
	for _, c := range []struct {
		row, col int
		masked   bool
	}{{0, 0, false}, {0, 1, true}, {1, 0, false}, {1, 1, false}} {
		p, ok := f.Cell(0, c.row, c.col)
		require.True(t, ok)
		got := f.Image.RGBAAt(p.X, p.Y)
		require.Equal(t, c.masked, grey(got), "cell (%d, %d) at %v is %v", c.row, c.col, p, got)
		if !c.masked {
			want := ScaleColor(h.Values[c.row*2+c.col] / 1)
			require.InDelta(t, float64(want.G), float64(got.G), 2, "cell (%d, %d)", c.row, c.col)
		}
	}
	_, ok := f.Cell(0, 2, 0)
	require.False(t, ok)
	_, ok = f.Cell(1, 0, 0)
	require.False(t, ok)
}

func TestColoursOrderedByWeight(t *testing.T) {
	vals := []float64{0.05, 0.4, 0.1, 0.3, 0.15}
	f, err := DrawHeatMap(HeatMap{Rows: 1, Cols: len(vals), Values: vals}, 500, 200)
	require.NoError(t, err)
	lum := make([]float64, len(vals))
	for j := range vals {
		p, _ := f.Cell(0, 0, j)
		lum[j] = luminance(f.Image.RGBAAt(p.X, p.Y))
	}
	for a := range vals {
		for b := range vals {
			if vals[a] < vals[b] {
				require.Less(t, lum[a], lum[b], "weight %g vs %g", vals[a], vals[b])
			}
		}
	}
	// The largest weight takes the top colour of the scale.
	p, _ := f.Cell(0, 0, 1)
	require.Equal(t, ScaleColor(1), f.Image.RGBAAt(p.X, p.Y))
}

func TestDrawGrid(t *testing.T) {
	maps := make([]HeatMap, 3)
	for i := range maps {
		maps[i] = HeatMap{Title: "head", Rows: 2, Cols: 3, Values: []float64{0, 0.5, 0.5, float64(i) / 4, 0, 0}}
	}
	maps[2].Masked = []bool{true, false, false, false, false, false}
	f, err := DrawGrid("grid", maps, 0, 0)
	require.NoError(t, err)
	b := f.Image.Bounds()
	require.Positive(t, b.Dx())
	require.Positive(t, b.Dy())
	// One colour scale: 0.5 is the top colour in every tile.
	for m := range maps {
		p, ok := f.Cell(m, 0, 1)
		require.True(t, ok)
		require.Equal(t, ScaleColor(1), f.Image.RGBAAt(p.X, p.Y), "map %d", m)
	}
	p, _ := f.Cell(2, 0, 0)
	require.True(t, grey(f.Image.RGBAAt(p.X, p.Y)))
	_, err = DrawGrid("none", nil, 0, 0)
	require.Error(t, err)
}

func TestBadHeatMaps(t *testing.T) {
	for _, h := range []HeatMap{
		{Rows: 0, Cols: 1},
		{Rows: 2, Cols: 2, Values: []float64{1}},
		{Rows: 1, Cols: 2, Values: []float64{1, 2}, Masked: []bool{true}},
		{Rows: 1, Cols: 1, Values: []float64{1}, Max: math.NaN()},
	} {
		_, err := DrawHeatMap(h, 100, 100)
		require.Error(t, err)
	}
}

func TestScaleColor(t *testing.T) {
	require.Equal(t, viridis[0], ScaleColor(0))
	require.Equal(t, viridis[0], ScaleColor(math.NaN()))
	require.Equal(t, viridis[10], ScaleColor(2))
	for i := 1; i <= 100; i++ {
		require.GreaterOrEqual(t, luminance(ScaleColor(float64(i)/100)), luminance(ScaleColor(float64(i-1)/100)))
		require.False(t, grey(ScaleColor(float64(i)/100)))
	}
}

func TestEntropyAndMax(t *testing.T) {
	w := []float64{
		0.25, 0.25, 0.25, 0.25, // uniform over 4: ln 4
		1, 0, 0, 0, // one key: 0
		0, 0, 0, 0, // every key masked: left out
	}
	require.InDelta(t, math.Log(4)/2, MeanEntropy(w, 4), 1e-12)
	require.InDelta(t, (0.25+1)/2, MeanMax(w, 4), 1e-12)
	require.Zero(t, MeanEntropy(w[8:], 4))
	require.Zero(t, MeanMax(nil, 0))
}

func TestGridShape(t *testing.T) {
	for n, want := range map[int][2]int{1: {1, 1}, 2: {2, 1}, 3: {3, 1}, 4: {2, 2}, 6: {3, 2}, 8: {4, 2}, 12: {4, 3}, 16: {4, 4}} {
		c, r := gridShape(n)
		require.Equal(t, want, [2]int{c, r}, "n = %d", n)
	}
}
