package cpuref

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/stretchr/testify/require"
)

// TestLargeTensorsAdviseHugePages checks in /proc/self/smaps that a tensor of
// hugeTensorBytes or more has its whole huge pages advised (VmFlags "hg",
// whatever the system's THP setting) and that a small one is left alone.
func TestLargeTensorsAdviseHugePages(t *testing.T) {
	b := New()
	defer b.Close()
	for _, tc := range []struct {
		dtype   backend.DType
		n       int
		advised bool
	}{
		{backend.Float32, 3 * hugePageBytes / 4, true},
		{backend.Float16, 3 * hugePageBytes / 2, true},
		{backend.Float32, hugePageBytes / 8, false},
	} {
		x, err := b.AllocAs(tc.dtype, tc.n)
		require.NoError(t, err)
		p := uintptr(x.(*Tensor).storage())
		// An address in the middle of the tensor: inside a whole huge page
		// where the tensor spans at least two.
		mid := p + uintptr(tc.n*tc.dtype.Size()/2)
		require.Equal(t, tc.advised, vmFlagsAt(t, mid)["hg"], "%v x %d at %#x", tc.dtype, tc.n, mid)
		require.NoError(t, x.Release())
	}
}

// vmFlagsAt are the VmFlags of the mapping holding addr, from /proc/self/smaps.
func vmFlagsAt(t *testing.T, addr uintptr) map[string]bool {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	inside := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			inside = lo <= addr && addr < hi
			continue
		}
		if inside && strings.HasPrefix(line, "VmFlags:") {
			flags := map[string]bool{}
			for _, fl := range strings.Fields(strings.TrimPrefix(line, "VmFlags:")) {
				flags[fl] = true
			}
			return flags
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

// mappingRange parses the "lo-hi perms ..." line that starts a mapping of smaps.
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	r, _, found := strings.Cut(line, " ")
	a, b, dash := strings.Cut(r, "-")
	if !found || !dash {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}
