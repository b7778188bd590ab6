// Package outfile writes the files clattn's tools make without ever losing
// what was at the path before:
//
//   - an output that is one of the command's inputs (the same file, also
//     through a symbolic or hard link) is refused;
//   - a target that exists and is not a regular file (a device node, a
//     directory, a pipe) is refused;
//   - a target of a kind-checked file (Target.Kind, e.g. a tuning cache) that
//     exists and is not of that kind is refused;
//   - the data goes to a temporary file in the target's directory, which is
//     renamed over the target only after the write, sync and close succeeded:
//     a failure (a full disk, an error of the writer) leaves the old file as
//     it was and no temporary file behind;
//   - a replaced file keeps its permission bits; a new one gets 0666 less the
//     umask, as os.Create gives;
//   - a symbolic link to a regular file stays a link: the file it points to
//     is replaced (a hard-linked file gets a new file under this name; its
//     other names keep the old content).
//
// Check runs the same refusals and tries the directory for writing, so that a
// command can reject an unwritable output before its work rather than after.
package outfile

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrRefused marks an output path that is refused before anything is written:
// one of the inputs, not a regular file, or a file of another kind.
var ErrRefused = errors.New("refused output")

// Target is a file to write.
type Target struct {
	// Path is where the file goes.
	Path string
	// Inputs are the files the command reads: Path must not be any of them.
	Inputs []string
	// Kind, if set, tells whether an existing file at Path may be replaced:
	// it returns an error for a file that is not of the kind written (Kind
	// reads the file at the path it is given).
	Kind func(path string) error
}

// resolve returns the path to replace (the file a symbolic link points to)
// and the existing file's info, nil when there is none; it applies every
// refusal that does not need the directory.
func (t Target) resolve() (string, fs.FileInfo, error) {
	if t.Path == "" {
		return "", nil, fmt.Errorf("%w: empty output path", ErrRefused)
	}
	path := t.Path
	st, err := os.Stat(path) // follows links
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if lst, lerr := os.Lstat(path); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
			return "", nil, fmt.Errorf("%w: %s is a symbolic link to nothing", ErrRefused, path)
		}
		return path, nil, nil
	case err != nil:
		return "", nil, err
	}
	if !st.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrRefused, path, describe(st.Mode()))
	}
	for _, in := range t.Inputs {
		if in == "" {
			continue
		}
		ist, err := os.Stat(in)
		if err == nil && os.SameFile(st, ist) {
			return "", nil, fmt.Errorf("%w: %s is the input %s: give another output path", ErrRefused, path, in)
		}
	}
	if t.Kind != nil {
		if err := t.Kind(path); err != nil {
			return "", nil, fmt.Errorf("%w: %s exists and is not one to replace: %v", ErrRefused, path, err)
		}
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return path, st, nil
}

// describe names a non-regular file mode for messages.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.String()
}

// Check reports whether Write could replace or create the file: the refusals
// of Write, a missing or unwritable directory. It writes nothing at Path.
func (t Target) Check() error {
	path, _, err := t.resolve()
	if err != nil {
		return err
	}
	tmp, err := createTemp(path, 0o600)
	if err != nil {
		return err
	}
	return errors.Join(tmp.Close(), os.Remove(tmp.Name()))
}

// Write writes the file through write (given a buffered writer) into a
// temporary file next to it and renames that over the target once the
// write, a sync and the close succeeded. On any error the target is as it was.
func (t Target) Write(write func(io.Writer) error) (err error) {
	path, old, err := t.resolve()
	if err != nil {
		return err
	}
	perm := fs.FileMode(0o666) // less the umask, as os.Create
	if old != nil {
		perm = old.Mode().Perm()
	}
	tmp, err := createTemp(path, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close() // a second close after a failed one: nothing to report
			_ = os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", t.Path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", t.Path, err)
	}
	if old != nil { // the umask must not narrow a replaced file's mode
		if err := tmp.Chmod(perm); err != nil {
			return fmt.Errorf("writing %s: %w", t.Path, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", t.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", t.Path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", t.Path, err)
	}
	return nil
}

// WriteFile is Target{Path: path, Inputs: inputs}.Write(write).
func WriteFile(path string, write func(io.Writer) error, inputs ...string) error {
	return Target{Path: path, Inputs: inputs}.Write(write)
}

// CheckFile is Target{Path: path, Inputs: inputs}.Check().
func CheckFile(path string, inputs ...string) error {
	return Target{Path: path, Inputs: inputs}.Check()
}

// createTemp creates a new hidden file with the given permission bits (less
// the umask) in the directory of path.
func createTemp(path string, perm fs.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	for range 10 {
		var r [6]byte
		_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(r[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", path, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot write %s: no free temporary name in %s", path, dir)
}
