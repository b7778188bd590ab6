package cpuref_test

import (
	"errors"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

func TestReadBandwidth(t *testing.T) {
	b := cpuref.New()
	gbps, err := b.ReadBandwidth(4 << 20)
	if err != nil || !(gbps > 0) {
		t.Errorf("ReadBandwidth(4 MiB) = %v, %v; want a positive rate", gbps, err)
	}
	if _, err := b.ReadBandwidth(1000); !errors.Is(err, backend.ErrArgument) {
		t.Errorf("ReadBandwidth(1000 bytes): %v, want ErrArgument", err)
	}
	b.Close()
	if _, err := b.ReadBandwidth(4 << 20); !errors.Is(err, backend.ErrReleased) {
		t.Errorf("ReadBandwidth after Close: %v, want ErrReleased", err)
	}
}
