package backend

import "testing"

func TestModeNames(t *testing.T) {
	for got, want := range map[string]string{
		NotCausal.String():         "none",
		CausalTopLeft.String():     "topleft",
		CausalBottomRight.String(): "bottomright",
		CausalMode(7).String():     "CausalMode(7)",
		MaskBool.String():          "bool",
		MaskAdditive.String():      "additive",
		MaskKind(-1).String():      "MaskKind(-1)",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
