package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/clattn/clattn/internal/sysmem"
)

// File is a parsed safetensors file.
type File struct {
	// Metadata is the header's __metadata__ (string to string); empty if absent.
	Metadata map[string]string
	// Tensors are in header order.
	Tensors []*Tensor
	byName  map[string]*Tensor
}

// Tensor returns the tensor called name, or nil.
func (f *File) Tensor(name string) *Tensor { return f.byName[name] }

// ReadFile reads and parses the safetensors file at path. Only a regular file
// is read (a device such as /dev/zero would never end), and no more than its
// size: the header and the data are bounded by what the file holds.
func ReadFile(path string) (*File, error) {
	b, err := readRegular(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// readRegular reads the regular file at path: exactly the size it had when
// opened (a file that shrinks meanwhile is an error).
func readRegular(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %s)", path, st.Mode())
	}
	if ram := sysmem.Physical(); ram > 0 && uint64(st.Size()) > ram {
		return nil, fmt.Errorf("%s: %s does not fit in this machine's %s of RAM", path, sysmem.GiB(st.Size()), sysmem.GiB(int64(ram)))
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(file, b); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}

// Read reads r to its end and parses it.
func Read(r io.Reader) (*File, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Parse(b)
}

func formatErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// headerEntry is one tensor's header record; pointers tell a missing field from a zero one.
type headerEntry struct {
	DType       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// span is a tensor's byte range in the data section.
type span struct {
	name       string
	begin, end uint64
}

// Parse parses a whole safetensors file held in b. The tensors' Data alias b.
func Parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, formatErrorf("file is %d bytes, too short for the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, formatErrorf("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, formatErrorf("header length %d exceeds the %d bytes after the length prefix (truncated file?)", n, len(b)-8)
	}
	header, data := b[8:8+n], b[8+n:]
	f, spans, err := parseHeader(header, uint64(len(data)))
	if err != nil {
		return nil, err
	}
	if err := checkCoverage(spans, uint64(len(data))); err != nil {
		return nil, err
	}
	for i, t := range f.Tensors {
		s := spans[i]
		t.Data = data[s.begin:s.end:s.end]
	}
	return f, nil
}

// parseHeader decodes the JSON header, checking every entry against the data
// section size. It returns the tensors (without data) and their byte ranges in
// header order.
func parseHeader(header []byte, dataSize uint64) (*File, []span, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, formatErrorf("header is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, formatErrorf("header is not a JSON object (starts with %v)", tok)
	}
	f := &File{Metadata: map[string]string{}, byName: map[string]*Tensor{}}
	var spans []span
	seenMetadata := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, formatErrorf("header: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, formatErrorf("header: key %v is not a string", tok)
		}
		if name == metadataKey {
			if seenMetadata {
				return nil, nil, formatErrorf("header: duplicate %s", metadataKey)
			}
			seenMetadata = true
			if err := dec.Decode(&f.Metadata); err != nil {
				return nil, nil, formatErrorf("header: %s must map strings to strings: %v", metadataKey, err)
			}
			if f.Metadata == nil { // JSON null
				f.Metadata = map[string]string{}
			}
			continue
		}
		if name == "" {
			return nil, nil, formatErrorf("header: empty tensor name")
		}
		if _, dup := f.byName[name]; dup {
			return nil, nil, formatErrorf("header: duplicate tensor name %q", name)
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return nil, nil, formatErrorf("tensor %q: bad header entry: %v", name, err)
		}
		t, s, err := checkEntry(name, e, dataSize)
		if err != nil {
			return nil, nil, err
		}
		f.Tensors = append(f.Tensors, t)
		f.byName[name] = t
		spans = append(spans, s)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, formatErrorf("header: %v", err)
	}
	if rest := header[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, nil, formatErrorf("header: %d bytes of trailing data after the JSON object", len(bytes.TrimLeft(rest, " \t\r\n")))
	}
	return f, spans, nil
}

// checkEntry validates one header entry: known dtype, non-negative shape, byte
// range inside the data section and matching dtype x shape.
func checkEntry(name string, e headerEntry, dataSize uint64) (*Tensor, span, error) {
	switch {
	case e.DType == nil:
		return nil, span{}, formatErrorf("tensor %q: missing dtype", name)
	case e.Shape == nil:
		return nil, span{}, formatErrorf("tensor %q: missing shape", name)
	case e.DataOffsets == nil:
		return nil, span{}, formatErrorf("tensor %q: missing data_offsets", name)
	}
	dt := DType(*e.DType)
	size := dt.Size()
	if size == 0 {
		return nil, span{}, formatErrorf("tensor %q: unsupported dtype %q", name, *e.DType)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return nil, span{}, formatErrorf("tensor %q: data_offsets has %d entries, want [begin, end]", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin > end {
		return nil, span{}, formatErrorf("tensor %q: data_offsets [%d, %d] end before begin", name, begin, end)
	}
	if end > dataSize {
		return nil, span{}, formatErrorf("tensor %q: data_offsets [%d, %d] out of range: data section is %d bytes", name, begin, end, dataSize)
	}
	shape := make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 {
			return nil, span{}, formatErrorf("tensor %q: negative dimension in shape %v", name, *e.Shape)
		}
		shape[i] = int(d)
	}
	// The range already fits the data section, so a shape needing more bytes is wrong
	// whatever its size; the limit keeps the product from overflowing.
	count, ok := numel(shape, math.MaxInt/size)
	if !ok || uint64(count)*uint64(size) != end-begin {
		return nil, span{}, formatErrorf("tensor %q: %s %v does not match its %d data bytes", name, dt, shape, end-begin)
	}
	return &Tensor{Name: name, DType: dt, Shape: shape}, span{name: name, begin: begin, end: end}, nil
}

// checkCoverage verifies that the byte ranges, sorted, tile the data section
// exactly: no overlap, no gap, nothing left over.
func checkCoverage(spans []span, dataSize uint64) error {
	sorted := append([]span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].begin != sorted[j].begin {
			return sorted[i].begin < sorted[j].begin
		}
		return sorted[i].end < sorted[j].end
	})
	var pos uint64
	prev := ""
	for _, s := range sorted {
		switch {
		case s.begin < pos:
			return formatErrorf("tensor %q: data_offsets [%d, %d] overlap tensor %q (ending at %d)", s.name, s.begin, s.end, prev, pos)
		case s.begin > pos:
			return formatErrorf("gap: data bytes %d..%d belong to no tensor (before %q)", pos, s.begin, s.name)
		}
		pos, prev = s.end, s.name
	}
	if pos != dataSize {
		return formatErrorf("data section is %d bytes but the tensors cover %d (trailing bytes)", dataSize, pos)
	}
	return nil
}
