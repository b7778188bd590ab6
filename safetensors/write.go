package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/clattn/clattn/internal/outfile"
)

// Write writes tensors (in the given order) and metadata as a safetensors file.
// The header is padded with spaces to a multiple of 8 bytes so the data section
// stays aligned, as PyTorch's writer does.
func Write(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	header, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
	}
	return nil
}

// WriteFile writes a safetensors file at path (see Write) through a temporary
// file renamed into place (package internal/outfile): on error, what was at
// path is left as it was. A path that is not a regular file, or is one of
// inputs (the files the caller read, compared with os.SameFile), is refused.
func WriteFile(path string, tensors []*Tensor, metadata map[string]string, inputs ...string) error {
	if err := outfile.WriteFile(path, func(w io.Writer) error { return Write(w, tensors, metadata) }, inputs...); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// encodeHeader validates the tensors and returns the padded JSON header.
func encodeHeader(tensors []*Tensor, metadata map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := make(map[string]bool, len(tensors))
	var offset uint64
	for i, t := range tensors {
		if t == nil {
			return nil, fmt.Errorf("safetensors: tensor %d is nil", i)
		}
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("safetensors: tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return nil, fmt.Errorf("safetensors: a tensor may not be called %s", metadataKey)
		case seen[t.Name]:
			return nil, fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, t.Name)
		buf.WriteString(`:{"dtype":`)
		writeJSONString(&buf, string(t.DType))
		buf.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(d))
		}
		end := offset + uint64(len(t.Data))
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	if len(metadata) > 0 {
		if len(tensors) > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, metadataKey)
		buf.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, k)
			buf.WriteByte(':')
			writeJSONString(&buf, metadata[k])
		}
		buf.WriteByte('}')
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	if buf.Len() > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header of %d bytes exceeds the limit of %d", buf.Len(), MaxHeaderSize)
	}
	return buf.Bytes(), nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}
