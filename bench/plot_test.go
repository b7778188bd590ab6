package bench

import (
	"bytes"
	"image/color"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func plotReport(device, date string, gflops float64) Report {
	r := Report{Device: device, Date: date}
	for _, op := range []Op{OpGemm, OpFFN, OpMHA, OpAttention} {
		for _, seq := range []int{128, 256} {
			r.Results = append(r.Results, Result{Op: op, Shape: Shape{Batch: 1, Seq: seq, DModel: 256, Heads: 4, HeadDim: 64, DFF: 1024},
				GFLOPs: gflops * float64(seq) / 128})
		}
	}
	return r
}

// TestPlotTitleAndLabels: the title names the device and the day of the run;
// two reports of one device get legend labels that tell them apart.
func TestPlotTitleAndLabels(t *testing.T) {
	cpu := plotReport("cpu", "2026-11-28T08:04:51Z", 100)
	pocl := plotReport("opencl:0 PoCL", "2026-11-29T10:00:00Z", 40)
	require.Equal(t, "clattn throughput on cpu, 2026-11-28", plotTitle([]Report{cpu}, true))
	require.Equal(t, "clattn throughput on cpu and opencl:0 PoCL, 2026-11-28, 2026-11-29", plotTitle([]Report{cpu, pocl}, true))
	require.Equal(t, "clattn throughput on 2 devices, 2026-11-28, 2026-11-29", plotTitle([]Report{cpu, pocl}, false))
	require.Equal(t, "clattn throughput on cpu", plotTitle([]Report{{Device: "cpu"}}, true), "a report without a date")

	later := plotReport("cpu", "2026-11-28T09:00:00Z", 90)
	require.Equal(t, "clattn throughput on cpu (2 runs), 2026-11-28", plotTitle([]Report{cpu, later}, true))
	require.Equal(t, []string{"cpu at 2026-11-28T08:04:51Z", "cpu at 2026-11-28T09:00:00Z"}, reportLabels([]Report{cpu, later}))
	require.Equal(t, []string{"cpu (report 1)", "cpu (report 2)", "opencl:0 PoCL"}, reportLabels([]Report{cpu, cpu, pocl}))
}

// TestSeriesColorsDistinct: gemm, ffn, mha, ... each get their own colour, well
// apart from each other, for as many series as the suites draw.
func TestSeriesColorsDistinct(t *testing.T) {
	const n = 24
	rgb := func(c color.Color) [3]int {
		r, g, b, _ := c.RGBA()
		return [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	}
	colors := seriesColors(n)
	require.Len(t, colors, n)
	require.Equal(t, colors[:5], seriesColors(5), "a series keeps its colour however many series follow")
	for i := range n {
		for j := range i {
			a, b := rgb(colors[i]), rgb(colors[j])
			d := 0
			for k := range 3 {
				d += (a[k] - b[k]) * (a[k] - b[k])
			}
			require.Greater(t, d, 60*60, "series %d %v and %d %v look alike", i, a, j, b)
		}
	}
}

// TestWritePlotSVG draws two reports of one device and finds the title and
// every legend label in the SVG.
func TestWritePlotSVG(t *testing.T) {
	var buf bytes.Buffer
	a, b := plotReport("cpu", "2026-11-28T08:04:51Z", 100), plotReport("cpu", "2026-11-28T08:04:51Z", 90)
	require.NoError(t, WritePlot(&buf, "svg", a, b))
	svg := buf.String()
	for _, text := range []string{"clattn throughput on cpu (2 runs), 2026-11-28", "cpu (report 1)", "cpu (report 2)",
		"gemm n=1024 k=256", "ffn d_model=256", "mha d_model=256", "attention b=1 h=4 d=64", "sequence length", "GFLOP/s"} {
		require.Contains(t, svg, ">"+text+"<", text)
	}
	require.Error(t, WritePlot(&buf, "svg"), "nothing to draw")
	require.Error(t, WritePlot(&buf, "bmpx", a), "unknown format")
	require.True(t, strings.HasPrefix(svg, "<?xml"), "an SVG document")
}
