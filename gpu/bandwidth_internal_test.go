package gpu

import (
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/stretchr/testify/require"
)

// TestStreamReadSumsEveryElement checks that the bandwidth kernel reads every
// element of its buffer exactly once, in the shapes of a CPU device and of a
// GPU, then that ReadBandwidth over a small buffer gives a positive figure and
// a buffer under 1 MiB is refused.
func TestStreamReadSumsEveryElement(t *testing.T) {
	d, _ := openFault(t)
	for _, s := range []streamShape{d.streamShape(), {vw: 4, local: 64, groups: 5}, {vw: 16, local: 1, groups: 3}} {
		n := 1000*s.vw + s.vw // not a multiple of the groups
		data := make([]float32, n)
		var want float64
		for i := range data {
			data[i] = float32(i%7 + 1)
			want += float64(data[i])
		}
		src, err := d.Upload(data, n)
		require.NoError(t, err)
		sums, err := d.Alloc(s.groups * s.local)
		require.NoError(t, err)
		require.NoError(t, d.streamRead(s, src, sums))
		got := make([]float32, s.groups*s.local)
		require.NoError(t, d.Download(got, sums))
		var total float64
		for _, x := range got {
			total += float64(x)
		}
		require.Equal(t, want, total, "shape %+v", s)
		require.NoError(t, src.Release())
		require.NoError(t, sums.Release())
	}
	gbps, err := d.ReadBandwidth(16 << 20)
	require.NoError(t, err)
	require.Greater(t, gbps, 0.0)
	_, err = d.ReadBandwidth(1000)
	require.ErrorIs(t, err, backend.ErrArgument)
}
