package outfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clattn/clattn/internal/outfile"
)

// writeString is a write function that writes s.
func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// requireOnly fails unless dir holds exactly the named entries (no temporary file left).
func requireOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	require.ElementsMatch(t, names, got)
}

func TestWriteNewAndReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	require.NoError(t, outfile.WriteFile(path, writeString("first")))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "first", string(data))

	require.NoError(t, os.Chmod(path, 0o640))
	require.NoError(t, outfile.WriteFile(path, writeString("second")))
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "second", string(data))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "a replaced file keeps its mode")
	requireOnly(t, dir, "out.txt")
}

// TestWriteFailureKeepsOld fails the write the way a full disk does (ENOSPC
// from the writer, after part of the data) and checks that the old file is
// untouched and no temporary file is left.
func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	require.NoError(t, os.WriteFile(path, []byte("precious"), 0o644))
	err := outfile.WriteFile(path, func(w io.Writer) error {
		if _, err := w.Write(make([]byte, 1<<16)); err != nil {
			return err
		}
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	})
	require.ErrorIs(t, err, syscall.ENOSPC)
	data, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	require.Equal(t, "precious", string(data))
	requireOnly(t, dir, "out.txt")
}

func TestRefuseInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.bin")
	require.NoError(t, os.WriteFile(in, []byte("weights"), 0o644))
	sym := filepath.Join(dir, "sym.bin")
	require.NoError(t, os.Symlink(in, sym))
	hard := filepath.Join(dir, "hard.bin")
	require.NoError(t, os.Link(in, hard))
	dotted := filepath.Join(dir, ".", "in.bin")
	for _, out := range []string{in, sym, hard, dotted} {
		err := outfile.WriteFile(out, writeString("output"), "other.bin", in)
		require.ErrorIs(t, err, outfile.ErrRefused, out)
		require.ErrorIs(t, outfile.CheckFile(out, in), outfile.ErrRefused, out)
	}
	data, err := os.ReadFile(in)
	require.NoError(t, err)
	require.Equal(t, "weights", string(data))
	requireOnly(t, dir, "in.bin", "sym.bin", "hard.bin")
}

func TestRefuseNonRegular(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{os.DevNull, dir} {
		require.ErrorIs(t, outfile.WriteFile(path, writeString("x")), outfile.ErrRefused, path)
		require.ErrorIs(t, outfile.CheckFile(path), outfile.ErrRefused, path)
	}
	st, err := os.Stat(os.DevNull)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&os.ModeCharDevice, "%s must still be a device", os.DevNull)

	dangling := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(dir, "nothing"), dangling))
	require.ErrorIs(t, outfile.WriteFile(dangling, writeString("x")), outfile.ErrRefused)
}

// TestSymlinkStaysLink writes through a link to a regular file: the file it
// points to gets the data, the link stays a link.
func TestSymlinkStaysLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.txt")
	require.NoError(t, os.WriteFile(real, []byte("old"), 0o644))
	link := filepath.Join(dir, "link.txt")
	require.NoError(t, os.Symlink(real, link))
	require.NoError(t, outfile.WriteFile(link, writeString("new")))
	data, err := os.ReadFile(real)
	require.NoError(t, err)
	require.Equal(t, "new", string(data))
	lst, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, lst.Mode()&os.ModeSymlink)
}

func TestKindRefusesForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"important": "user data"}`), 0o644))
	errForeign := errors.New("not a cache")
	kind := func(p string) error {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if string(data) != "cache" {
			return errForeign
		}
		return nil
	}
	target := outfile.Target{Path: path, Kind: kind}
	require.ErrorIs(t, target.Check(), outfile.ErrRefused)
	require.ErrorIs(t, target.Write(writeString("cache")), outfile.ErrRefused)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, `{"important": "user data"}`, string(data))

	require.NoError(t, os.WriteFile(path, []byte("cache"), 0o644))
	require.NoError(t, target.Write(writeString("cache")), "a file of its own kind is replaced")
	require.NoError(t, os.Remove(path))
	require.NoError(t, target.Write(writeString("cache")), "a missing file is created")
}

func TestCheckUnwritable(t *testing.T) {
	dir := t.TempDir()
	require.Error(t, outfile.CheckFile(filepath.Join(dir, "no", "such", "dir", "out.json")))
	requireOnly(t, dir)
	require.NoError(t, outfile.CheckFile(filepath.Join(dir, "out.json")))
	requireOnly(t, dir)    // Check leaves nothing behind
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(ro, 0o555))
		require.Error(t, outfile.CheckFile(filepath.Join(ro, "out.json")))
	}
}
