package gpu

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// wrongCandidate is a gemmTarget whose candidate bad gives a wrong result: its
// check compares against a reference with one element changed.
type wrongCandidate struct {
	*gemmTarget
	bad int
}

func (w wrongCandidate) check(i int) error {
	if i != w.bad {
		return w.gemmTarget.check(i)
	}
	want := w.checks[0].want
	want[7] += 0.5
	defer func() { want[7] -= 0.5 }()
	return w.gemmTarget.check(i)
}

// TestTuneDiscardsWrongResults checks that a candidate giving wrong results is
// discarded and never wins, and that a search where none is right fails.
func TestTuneDiscardsWrongResults(t *testing.T) {
	d, _ := openFault(t)
	// Small tilings build fastest; search does not care which is the default.
	tiles := []GemmTiles{
		{TM: 32, TN: 32, TK: 8, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4},
		{TM: 32, TN: 32, TK: 16, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4},
	}
	g, err := newGemmTarget(d, tiles, 64)
	require.NoError(t, err)
	defer g.release()
	names := []string{tiles[0].String(), tiles[1].String()}
	tn := &tuner{d: d, opt: TuneOptions{Reps: 1, Budget: time.Minute}}
	deadline := time.Now().Add(time.Minute)

	best, err := tn.search("gemm", names, wrongCandidate{g, 1}, deadline)
	require.NoError(t, err)
	require.Equal(t, 0, best)
	require.ErrorContains(t, tn.res.Candidates[1].Err, "wrong results on 160x144x96")
	require.Zero(t, tn.res.Candidates[1].Time)

	// confirm keeps the fastest run of each and the winner only if it still wins.
	def, win := TuneCandidate{Time: time.Nanosecond}, TuneCandidate{Time: time.Hour}
	i, err := tn.confirm(g, &def, &win, 1)
	require.NoError(t, err)
	require.Equal(t, 0, i)
	require.Equal(t, time.Nanosecond, def.Time)
	require.Less(t, win.Time, time.Hour)
	def, win = TuneCandidate{Time: time.Hour}, TuneCandidate{Time: time.Nanosecond}
	i, err = tn.confirm(g, &def, &win, 1)
	require.NoError(t, err)
	require.Equal(t, 1, i)
	require.Positive(t, win.GFLOPs)

	tn.res = TuneResult{}
	_, err = tn.search("gemm", names[:1], wrongCandidate{g, 0}, deadline)
	require.ErrorContains(t, err, "no gemm tiling ran correctly")
	require.ErrorContains(t, err, "wrong results")
}
