package gpu

import "testing"

// PretendToBe makes d choose its kernels, tiles and paths as it would on the
// device info describes (ChooseAs) until the test ends. Tests must not run in
// parallel on d meanwhile.
func (d *Device) PretendToBe(t testing.TB, info DeviceInfo) {
	t.Cleanup(d.ChooseAs(info))
}
