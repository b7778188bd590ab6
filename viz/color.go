package viz

import (
	"image/color"
	"math"
)

// viridis samples matplotlib's viridis colour map at 0, 0.1, ..., 1.
var viridis = [...]color.RGBA{
	{0x44, 0x01, 0x54, 0xff}, {0x48, 0x24, 0x75, 0xff}, {0x41, 0x44, 0x87, 0xff},
	{0x35, 0x5f, 0x8d, 0xff}, {0x2a, 0x78, 0x8e, 0xff}, {0x21, 0x91, 0x8c, 0xff},
	{0x22, 0xa8, 0x84, 0xff}, {0x44, 0xbf, 0x70, 0xff}, {0x7a, 0xd1, 0x51, 0xff},
	{0xbd, 0xdf, 0x26, 0xff}, {0xfd, 0xe7, 0x25, 0xff},
}

var (
	// MaskedColor fills a masked cell; no colour of the scale is grey.
	MaskedColor = color.RGBA{0xd9, 0xd9, 0xd9, 0xff}
	// HatchColor draws the diagonal hatching over masked cells.
	HatchColor = color.RGBA{0x6e, 0x6e, 0x6e, 0xff}
)

// ScaleColor is the colour of t on the scale, t in [0, 1] (clamped; NaN is 0):
// viridis, dark purple at 0 through blue and green to yellow at 1.
func ScaleColor(t float64) color.RGBA {
	if !(t > 0) {
		return viridis[0]
	}
	if t >= 1 {
		return viridis[len(viridis)-1]
	}
	x := t * float64(len(viridis)-1)
	i := int(x)
	f := x - float64(i)
	a, b := viridis[i], viridis[i+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + f*(float64(q)-float64(p)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}
