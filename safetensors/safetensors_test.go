package safetensors

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clattn/clattn/internal/sysmem"
)

func sampleTensors() []*Tensor {
	return []*Tensor{
		FromFloat32("layers.0.weight", []float32{1, -2, 3.5, float32(math.Inf(-1)), 0, 6}, 2, 3),
		FromFloat64("out_f64", []float64{math.Pi, -1e300}, 2),
		FromUint8("mask", []uint8{0, 1, 1}, 1, 3),
		FromInt64("ids", []int64{-7, 1 << 40}, 2),
		FromFloat32("scalar", []float32{42}),
		FromFloat32("empty", nil, 0, 5),
	}
}

func TestRoundTrip(t *testing.T) {
	meta := map[string]string{"kind": "encoder", "d_model": "64", "quote\"d": "ü"}
	var buf bytes.Buffer
	noError(t, Write(&buf, sampleTensors(), meta))
	equal(t, (buf.Len()-8-len(sampleBytes(t)))%8, 0, "header padded to 8 bytes")

	f, err := Parse(buf.Bytes())
	noError(t, err)
	equal(t, meta, f.Metadata)
	want := sampleTensors()
	equal(t, len(f.Tensors), len(want))
	for i, w := range want {
		got := f.Tensors[i]
		equal(t, w.Name, got.Name)
		equal(t, w.DType, got.DType)
		equal(t, append([]int{}, got.Shape...), append([]int{}, w.Shape...))
		equal(t, w.Data, got.Data)
		equal(t, got == f.Tensor(w.Name), true)
	}
	equal(t, f.Tensor("absent") == nil, true)

	x, err := f.Tensor("layers.0.weight").Float32s()
	noError(t, err)
	equal(t, []float32{1, -2, 3.5, float32(math.Inf(-1)), 0, 6}, x)
	d, err := f.Tensor("out_f64").Float64s()
	noError(t, err)
	equal(t, []float64{math.Pi, -1e300}, d)
	m, err := f.Tensor("mask").Float32s()
	noError(t, err)
	equal(t, []float32{0, 1, 1}, m)
	ids, err := f.Tensor("ids").Float64s()
	noError(t, err)
	equal(t, []float64{-7, 1 << 40}, ids)
	equal(t, 1, f.Tensor("scalar").Numel())
	equal(t, 0, f.Tensor("empty").Numel())
}

// sampleBytes is the data section of sampleTensors.
func sampleBytes(t *testing.T) []byte {
	t.Helper()
	var b []byte
	for _, x := range sampleTensors() {
		b = append(b, x.Data...)
	}
	return b
}

func TestWriteFileAndReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	noError(t, WriteFile(path, sampleTensors(), nil))
	f, err := ReadFile(path)
	noError(t, err)
	equal(t, len(f.Metadata), 0)
	equal(t, len(f.Tensors), len(sampleTensors()))

	_, err = ReadFile(filepath.Join(t.TempDir(), "absent.safetensors"))
	errorIs(t, err, os.ErrNotExist)
}

func TestWriteRejects(t *testing.T) {
	for name, ts := range map[string][]*Tensor{
		"duplicate tensor name": {FromUint8("a", []uint8{1}, 1), FromUint8("a", []uint8{1}, 1)},
		"empty name":            {FromUint8("", []uint8{1}, 1)},
		"may not be called":     {FromUint8(metadataKey, []uint8{1}, 1)},
		"needs 12 bytes":        {FromFloat32("a", []float32{1, 2}, 3)},
		"unknown dtype":         {{Name: "a", DType: "Q4", Shape: []int{1}, Data: []byte{0}}},
		"negative dimension":    {{Name: "a", DType: U8, Shape: []int{-1}}},
		"is nil":                {nil},
	} {
		err := Write(&bytes.Buffer{}, ts, nil)
		errorContains(t, err, name)
	}
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	errorContains(t, WriteFile(path, []*Tensor{FromFloat32("a", []float32{1}, 2)}, nil), "needs 8 bytes")
	_, err := os.Stat(path)
	errorIs(t, err, os.ErrNotExist, "partial file removed")

	// A failed write leaves the file that was there.
	noError(t, WriteFile(path, sampleTensors(), nil))
	before, err := os.ReadFile(path)
	noError(t, err)
	errorContains(t, WriteFile(path, []*Tensor{FromFloat32("a", []float32{1}, 2)}, nil), "needs 8 bytes")
	after, err := os.ReadFile(path)
	noError(t, err)
	equal(t, string(after), string(before))
}

// TestWriteFileRefusesInput checks that the output may not be a file the
// caller read, also through a link, and that the input survives.
func TestWriteFileRefusesInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.safetensors")
	noError(t, WriteFile(in, sampleTensors(), nil))
	before, err := os.ReadFile(in)
	noError(t, err)
	link := filepath.Join(dir, "link.safetensors")
	noError(t, os.Symlink(in, link))
	for _, out := range []string{in, link} {
		errorContains(t, WriteFile(out, []*Tensor{FromUint8("x", []uint8{1}, 1)}, nil, in), "is the input")
	}
	after, err := os.ReadFile(in)
	noError(t, err)
	equal(t, string(after), string(before))
}

// TestReadFileRefusesNonRegular checks that a device or a directory is refused
// instead of read without end.
func TestReadFileRefusesNonRegular(t *testing.T) {
	for _, path := range []string{"/dev/zero", t.TempDir()} {
		if _, err := os.Stat(path); err != nil {
			continue // no /dev/zero on this system
		}
		_, err := ReadFile(path)
		errorContains(t, err, "not a regular file")
	}
}

func TestHalfPrecision(t *testing.T) {
	// 1.0, -2.0, 65504 (max), smallest subnormal, +Inf, -0, 0.5
	half := []uint16{0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x3800}
	want := []float32{1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(1)), float32(math.Copysign(0, -1)), 0.5}
	b := make([]byte, 2*len(half))
	for i, h := range half {
		b[2*i], b[2*i+1] = byte(h), byte(h>>8)
	}
	got, err := (&Tensor{Name: "h", DType: F16, Shape: []int{len(half)}, Data: b}).Float32s()
	noError(t, err)
	for i := range want {
		equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "element %d", i)
	}
	nan, err := (&Tensor{Name: "n", DType: F16, Shape: []int{1}, Data: []byte{0x01, 0x7e}}).Float32s()
	noError(t, err)
	equal(t, math.IsNaN(float64(nan[0])), true)

	// bfloat16 is the top half of a float32.
	bf, err := (&Tensor{Name: "b", DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x40, 0xc0}}).Float32s()
	noError(t, err)
	equal(t, []float32{1, -3}, bf)
}

// badFiles maps each file of testdata/bad to a substring of its expected error.
var badFiles = map[string]string{
	"too_short":            "too short for the 8-byte header length",
	"header_too_large":     "exceeds the limit",
	"header_truncated":     "header length 1000 exceeds the",
	"not_json":             "header is not JSON",
	"not_object":           "not a JSON object",
	"unknown_dtype":        `tensor "a": unsupported dtype "F8"`,
	"missing_dtype":        `tensor "a": missing dtype`,
	"missing_shape":        `tensor "a": missing shape`,
	"missing_offsets":      `tensor "a": missing data_offsets`,
	"offsets_out_of_range": "out of range: data section is 8 bytes",
	"offsets_reversed":     "end before begin",
	"offsets_three":        "data_offsets has 3 entries",
	"shape_mismatch":       `tensor "a": F32 [3] does not match its 8 data bytes`,
	"shape_overflow":       "does not match its 0 data bytes",
	"negative_dim":         "negative dimension",
	"fractional_dim":       `tensor "a": bad header entry`,
	"overlap":              `tensor "b": data_offsets [4, 12] overlap tensor "a"`,
	"gap":                  "gap: data bytes 4..8 belong to no tensor",
	"trailing_bytes":       "trailing bytes",
	"data_truncated":       "out of range: data section is 40 bytes",
	"duplicate_name":       `duplicate tensor name "a"`,
	"duplicate_metadata":   "duplicate __metadata__",
	"metadata_not_strings": "must map strings to strings",
	"unknown_field":        `unknown field "extra"`,
	"entry_not_object":     `tensor "a": bad header entry`,
	"empty_name":           "empty tensor name",
	"trailing_json":        "trailing data after the JSON object",
	"unterminated_json":    "header",
}

func TestBadFiles(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "bad", "*.safetensors"))
	noError(t, err)
	equal(t, len(paths), len(badFiles), "every bad file has an expected error and vice versa")
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".safetensors")
		t.Run(name, func(t *testing.T) {
			want, ok := badFiles[name]
			equal(t, ok, true, "no expected error for "+path)
			_, err := ReadFile(path)
			errorIs(t, err, ErrFormat)
			errorContains(t, err, want)
			errorContains(t, err, path, "the error names the file")
		})
	}
}

func TestReadReader(t *testing.T) {
	var buf bytes.Buffer
	noError(t, Write(&buf, sampleTensors(), nil))
	f, err := Read(&buf)
	noError(t, err)
	equal(t, len(f.Tensors), len(sampleTensors()))

	_, err = Read(failingReader{})
	errorContains(t, err, "disk on fire")
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// FuzzRead checks that no input makes Parse panic, and that whatever parses
// writes back to a file that parses to the same tensors.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleTensors(), map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	bad, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.safetensors"))
	for _, path := range bad {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := Write(&out, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("a parsed file does not write back: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("a written file does not parse: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors written, %d read back", len(file.Tensors), len(again.Tensors))
		}
		for i, x := range file.Tensors {
			y := again.Tensors[i]
			if x.Name != y.Name || x.DType != y.DType || !bytes.Equal(x.Data, y.Data) || len(x.Shape) != len(y.Shape) {
				t.Fatalf("tensor %d changed: %q %s %v -> %q %s %v", i, x.Name, x.DType, x.Shape, y.Name, y.DType, y.Shape)
			}
			if _, err := x.Float64s(); err != nil {
				t.Fatalf("tensor %q parsed but does not convert: %v", x.Name, err)
			}
		}
	})
}

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func errorContains(t *testing.T, err error, want string, msg ...any) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v does not contain %q %v", err, want, msg)
	}
}

func errorIs(t *testing.T, err, target error, msg ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v is not %v %v", err, target, msg)
	}
}

func equal(t *testing.T, got, want any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v %v", got, want, msg)
	}
}

// TestBool reads a BOOL tensor as torch.bool stores it (one byte an element):
// any nonzero byte is true.
func TestBool(t *testing.T) {
	var buf bytes.Buffer
	in := FromBool("mask", []bool{true, false, true}, 3)
	if err := Write(&buf, []*Tensor{in}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m := f.Tensor("mask")
	if m == nil || m.DType != BOOL || !bytes.Equal(m.Data, []byte{1, 0, 1}) {
		t.Fatalf("read back %+v", m)
	}
	m.Data = []byte{2, 0, 255}
	got, err := m.Float32s()
	if err != nil || !reflect.DeepEqual(got, []float32{1, 0, 1}) {
		t.Errorf("Float32s = %v, %v, want [1 0 1]", got, err)
	}
}

// TestReadFileLargerThanRAM refuses a (sparse) file larger than the machine's
// RAM before reading it.
func TestReadFileLargerThanRAM(t *testing.T) {
	ram := sysmem.Physical()
	if ram == 0 || ram > 1<<50 {
		t.Skip("the machine's RAM is unknown here")
	}
	path := filepath.Join(t.TempDir(), "huge.safetensors")
	f, err := os.Create(path)
	noError(t, err)
	if err := f.Truncate(int64(ram) + 1); err != nil {
		f.Close()
		t.Skipf("no sparse file of %d bytes here: %v", ram+1, err)
	}
	noError(t, f.Close())
	_, err = ReadFile(path)
	errorContains(t, err, "does not fit in this machine's")
}
