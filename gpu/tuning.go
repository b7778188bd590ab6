package gpu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"sync"

	"github.com/clattn/clattn/internal/outfile"
	"github.com/clattn/clattn/kernels"
)

// Tuning overrides the shipped tile sizes of one device. A nil field keeps the
// shipped default. Tune finds a Tuning by measurement, SetTuning applies one,
// the tuning cache stores one per device and Open applies it.
//
// The shipped defaults are the device's Profile (the table of classProfiles).
type Tuning struct {
	Gemm      *GemmTiles      `json:"gemm,omitempty"`
	Attention *AttentionTiles `json:"attention,omitempty"`
}

// GemmTiles is a tiling of the GEMM kernel (kernels/gemm.cl): a work-group
// computes a TM x TN block of C in steps of TK along k, with (TN/WPTN) x
// (TM/WPTM) work-items of WPTM x WPTN results each. Gemm still takes the 64x64
// generic tiling for a product too small to give every compute unit of a GPU a
// work-group of these tiles.
type GemmTiles struct {
	TM   int `json:"tm"`
	TN   int `json:"tn"`
	TK   int `json:"tk"`
	WPTM int `json:"wptm"`
	WPTN int `json:"wptn"`
	// VWN is the vector width of the micro-tile columns, LVW that of the
	// global loads of aligned views: 1, 2, 4, 8 or 16.
	VWN int `json:"vwn"`
	LVW int `json:"lvw"`
	// Unroll is the unroll factor of the micro-tile loops; 0 unrolls fully.
	Unroll int `json:"unroll"`
}

// AttentionTiles is a tiling of the fused Attention kernel: flash.cl (work-item
// tiles, for GPUs) or, with CPU set, flash_cpu.cl (float16 vectors, for CPU
// devices). Scores, Softmax and AttendValues keep their shipped tiles. Every
// size is a power of two, so that Attention can halve the tiles until they fit
// the local memory of large head dims as it does with the defaults.
type AttentionTiles struct {
	CPU bool `json:"cpu,omitempty"`

	// flash.cl: BM query rows per work-group on TR x TC work-items (TR along
	// rows, TC along keys), BN keys per local tile, LPad floats of padding
	// per local row (0 or 1).
	BM   int `json:"bm,omitempty"`
	BN   int `json:"bn,omitempty"`
	TR   int `json:"tr,omitempty"`
	TC   int `json:"tc,omitempty"`
	LPad int `json:"lpad,omitempty"`

	// flash_cpu.cl: RB query rows per work-item, NW work-items per group, KB
	// keys per local tile (at least 16).
	RB int `json:"rb,omitempty"`
	NW int `json:"nw,omitempty"`
	KB int `json:"kb,omitempty"`
}

func (t GemmTiles) String() string {
	return fmt.Sprintf("%dx%dx%d micro %dx%d vec %d/%d unroll %d", t.TM, t.TN, t.TK, t.WPTM, t.WPTN, t.VWN, t.LVW, t.Unroll)
}

func (t AttentionTiles) String() string {
	if t.CPU {
		return fmt.Sprintf("flash_cpu rows %dx%d keys %d", t.RB, t.NW, t.KB)
	}
	return fmt.Sprintf("flash rows %d keys %d items %dx%d pad %d", t.BM, t.BN, t.TR, t.TC, t.LPad)
}

// tuningHeadDim is the head dim at which attention tiles must fit the device
// unshrunk: the one Tune times.
const tuningHeadDim = 64

// Validate reports whether the device info describes can run t: the tiles
// divide as the kernels require, and the work-group and local memory fit (the
// attention tiles at head dim 64; Attention halves them for larger head dims).
func (t Tuning) Validate(info DeviceInfo) error {
	if t.Gemm != nil {
		if err := t.Gemm.validate(info); err != nil {
			return err
		}
	}
	if t.Attention != nil {
		if err := t.Attention.validate(info); err != nil {
			return err
		}
	}
	return nil
}

// maxTileSize bounds every size of a tiling before any arithmetic on it: far
// above what a work-group or local memory holds, and low enough that the
// products of the checks below cannot overflow (a cache file is user input).
const maxTileSize = 1 << 24

// tileSizesInRange checks that each named size is in [0, maxTileSize].
func tileSizesInRange(what fmt.Stringer, sizes ...int) error {
	for _, v := range sizes {
		if v < 0 || v > maxTileSize {
			return fmt.Errorf("gpu: %s: size %d out of range [0, %d]", what, v, maxTileSize)
		}
	}
	return nil
}

func (t GemmTiles) validate(info DeviceInfo) error {
	if err := tileSizesInRange(t, t.TM, t.TN, t.TK, t.WPTM, t.WPTN, t.VWN, t.LVW, t.Unroll); err != nil {
		return err
	}
	c := gemmConfig(t)
	if err := c.valid(); err != nil {
		return fmt.Errorf("gpu: %w", err)
	}
	x, y := c.localSize()
	if err := fitsWorkGroup(info, x, y); err != nil {
		return fmt.Errorf("gpu: gemm tiling %v: %w", t, err)
	}
	if need := int64(c.localBytes()); need > info.LocalMem {
		return fmt.Errorf("gpu: gemm tiling %v needs %d bytes of local memory, %s has %d", t, need, info.Name, info.LocalMem)
	}
	return nil
}

func (t AttentionTiles) validate(info DeviceInfo) error {
	if err := tileSizesInRange(t, t.BM, t.BN, t.TR, t.TC, t.LPad, t.RB, t.NW, t.KB); err != nil {
		return err
	}
	pow2 := func(vs ...int) bool {
		for _, v := range vs {
			if v <= 0 || bits.OnesCount(uint(v)) != 1 {
				return false
			}
		}
		return true
	}
	dkp := padHeadDim(tuningHeadDim, t.CPU)
	var need int64
	var x, y int
	if t.CPU {
		if !pow2(t.RB, t.NW, t.KB) || t.KB < 16 || t.RB > 32 {
			return fmt.Errorf("gpu: attention tiling %v: RB, NW and KB must be powers of two, RB at most 32, KB at least 16", t)
		}
		need, x, y = flashCPULocalBytes(t.KB, dkp), t.NW, 1
	} else {
		if !pow2(t.BM, t.BN, t.TR, t.TC) || t.BM < t.TR || t.BN < t.TC || (t.LPad != 0 && t.LPad != 1) {
			return fmt.Errorf("gpu: attention tiling %v: BM, BN, TR and TC must be powers of two with BM >= TR, BN >= TC, and LPad 0 or 1", t)
		}
		need, x, y = flashLocalBytes(t.BM, t.BN, t.TC, t.LPad, dkp, dkp), t.TC, t.TR
	}
	if err := fitsWorkGroup(info, x, y); err != nil {
		return fmt.Errorf("gpu: attention tiling %v: %w", t, err)
	}
	if limit := localLimit(info); need > limit {
		return fmt.Errorf("gpu: attention tiling %v needs %d bytes of local memory at head dim %d, %s has %d",
			t, need, tuningHeadDim, info.Name, limit)
	}
	return nil
}

// fitsWorkGroup checks an x by y work-group against the device's limits.
func fitsWorkGroup(info DeviceInfo, x, y int) error {
	if x*y > info.MaxWorkGroupSize {
		return fmt.Errorf("a %dx%d work-group has %d work-items, %s allows %d", x, y, x*y, info.Name, info.MaxWorkGroupSize)
	}
	if s := info.MaxWorkItemSizes; len(s) >= 2 && (x > s[0] || y > s[1]) {
		return fmt.Errorf("a %dx%d work-group exceeds the work-item sizes %dx%d of %s", x, y, s[0], s[1], info.Name)
	}
	return nil
}

// DefaultTuning is the shipped tiling of a device: the tiles the device uses
// without an override, the attention tiles as they fit at head dim 64 (larger
// head dims shrink them).
func DefaultTuning(info DeviceInfo) Tuning { return defaultTuning(ProfileOf(info), info) }

// defaultTuning is DefaultTuning of the device with profile p.
func defaultTuning(p Profile, info DeviceInfo) Tuning {
	g := GemmTiles(p.gemm)
	c := p.attention
	if f, err := c.fitted(info, tuningHeadDim, tuningHeadDim); err == nil {
		c = f
	}
	a := attentionTilesOf(c)
	return Tuning{Gemm: &g, Attention: &a}
}

func attentionTilesOf(c attentionConfig) AttentionTiles {
	if c.CPU {
		return AttentionTiles{CPU: true, RB: c.RB, NW: c.NW, KB: c.KB}
	}
	return AttentionTiles{BM: c.BM, BN: c.BN, TR: c.TR, TC: c.TC, LPad: c.LPad}
}

// apply returns c with its fused-kernel tiles replaced by t.
func (t AttentionTiles) apply(c attentionConfig) attentionConfig {
	c.CPU = t.CPU
	if t.CPU {
		c.RB, c.NW, c.KB = t.RB, t.NW, t.KB
	} else {
		c.BM, c.BN, c.TR, c.TC, c.LPad = t.BM, t.BN, t.TR, t.TC, t.LPad
	}
	return c
}

// SetTuning replaces the device's tiles with t from the next operation on; a
// nil field restores that kernel's shipped default, so Tuning{} restores both.
// A tiling the device cannot hold is rejected and changes nothing.
func (d *Device) SetTuning(t Tuning) error {
	if err := t.Validate(d.info); err != nil {
		return err
	}
	var own Tuning
	if t.Gemm != nil {
		g := *t.Gemm
		own.Gemm = &g
	}
	if t.Attention != nil {
		a := *t.Attention
		own.Attention = &a
	}
	d.tuning.Store(&own)
	return nil
}

// Tuning reports the tiles in use: the override of SetTuning, else the shipped
// default, for each kernel (never nil fields).
func (d *Device) Tuning() Tuning {
	t := defaultTuning(d.profile, d.info)
	if o := d.tuning.Load(); o != nil {
		if o.Gemm != nil {
			g := *o.Gemm
			t.Gemm = &g
		}
		if o.Attention != nil {
			a := *o.Attention
			t.Attention = &a
		}
	}
	return t
}

// gemmTiling is the device's GEMM tiling: the override or the profile's.
func (d *Device) gemmTiling() gemmConfig {
	if o := d.tuning.Load(); o != nil && o.Gemm != nil {
		return gemmConfig(*o.Gemm)
	}
	return d.profile.gemm
}

// attentionConfig is the device's attention tiling: the profile's with the
// fused tiles of the override, if any.
func (d *Device) attentionConfig() attentionConfig {
	c := d.profile.attention
	if o := d.tuning.Load(); o != nil && o.Attention != nil {
		c = o.Attention.apply(c)
	}
	return c
}

// TuningCacheEnv names the tuning cache file that Open reads instead of
// DefaultTuningCachePath; "off" makes Open read none.
const TuningCacheEnv = "CLATTN_TUNING_CACHE"

// DefaultTuningCachePath is the tuning cache that Open applies and gpubench tune
// writes: $CLATTN_TUNING_CACHE where set ("" when it is "off"), else
// clattn/tuning.json under os.UserCacheDir.
func DefaultTuningCachePath() (string, error) {
	switch p := os.Getenv(TuningCacheEnv); p {
	case "off":
		return "", nil
	case "":
	default:
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("gpu: tuning cache: %w", err)
	}
	return filepath.Join(dir, "clattn", "tuning.json"), nil
}

// TuningCache holds the tuned tiles of devices, keyed by TuningKey; it is the
// JSON of the cache file.
type TuningCache struct {
	Devices map[string]TuningEntry `json:"devices"`
}

// TuningEntry is one device's tuned tiles and the kernel sources they were
// tuned and checked with.
type TuningEntry struct {
	Tuning
	// Kernels identifies the GEMM and fused attention kernel sources (a hash):
	// an entry made with other sources no longer applies.
	Kernels string `json:"kernels"`
}

// TuningKey is the cache key of a device: "name|driver version".
func TuningKey(info DeviceInfo) string { return info.Name + "|" + info.DriverVersion }

// tunedKernels identifies the sources whose tiles a Tuning sets.
var tunedKernels = sync.OnceValue(func() string {
	h := sha256.New()
	for _, f := range []string{"gemm.cl", "flash.cl", "flash_cpu.cl"} {
		src, _ := kernels.Source(f) // embedded: cannot fail
		h.Write([]byte(f))
		h.Write([]byte(src))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
})

// Lookup returns the entry of the device info describes, if the cache has one
// made with this build's kernels.
func (c TuningCache) Lookup(info DeviceInfo) (Tuning, bool) {
	e, ok := c.Devices[TuningKey(info)]
	if !ok || e.Kernels != tunedKernels() {
		return Tuning{}, false
	}
	return e.Tuning, true
}

// Store records t as the tuning of the device info describes.
func (c *TuningCache) Store(info DeviceInfo, t Tuning) {
	if c.Devices == nil {
		c.Devices = map[string]TuningEntry{}
	}
	c.Devices[TuningKey(info)] = TuningEntry{Tuning: t, Kernels: tunedKernels()}
}

// LoadTuningCache reads a tuning cache file. A missing file is an empty cache;
// one that is not a cache (not JSON, no "devices", a field a cache does not
// have) is an error.
func LoadTuningCache(path string) (TuningCache, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return TuningCache{Devices: map[string]TuningEntry{}}, nil
	}
	if err != nil {
		return TuningCache{}, fmt.Errorf("gpu: tuning cache: %w", err)
	}
	c, err := parseTuningCache(data)
	if err != nil {
		return TuningCache{}, fmt.Errorf("gpu: tuning cache %s: %w", path, err)
	}
	return c, nil
}

// parseTuningCache decodes what SaveTuningCache wrote, refusing other JSON.
func parseTuningCache(data []byte) (TuningCache, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c TuningCache
	if err := dec.Decode(&c); err != nil {
		return TuningCache{}, fmt.Errorf("not a tuning cache: %w", err)
	}
	if c.Devices == nil {
		return TuningCache{}, errors.New(`not a tuning cache: no "devices"`)
	}
	return c, nil
}

// isTuningCache accepts the file at path if it is a tuning cache: the one kind
// of file SaveTuningCache replaces.
func isTuningCache(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = parseTuningCache(data)
	return err
}

// SaveTuningCache writes c to path, creating its folder, through a temporary
// file renamed into place (package internal/outfile): a reader never sees half
// a cache, a failure leaves the old one, a replaced cache keeps its mode, and
// a file at path that is not a tuning cache is refused and left alone.
func SaveTuningCache(path string, c TuningCache) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("gpu: tuning cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("gpu: tuning cache: %w", err)
	}
	err = tuningCacheTarget(path).Write(func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("gpu: tuning cache: %w", err)
	}
	return nil
}

// CheckTuningCachePath tells before tuning whether SaveTuningCache could write
// path: it creates the folder as SaveTuningCache does, then applies the same
// refusals and tries the folder for writing, leaving no file behind.
func CheckTuningCachePath(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("gpu: tuning cache: %w", err)
	}
	if err := tuningCacheTarget(path).Check(); err != nil {
		return fmt.Errorf("gpu: tuning cache: %w", err)
	}
	return nil
}

// tuningCacheTarget is the output file of a tuning cache at path.
func tuningCacheTarget(path string) outfile.Target {
	return outfile.Target{Path: path, Kind: isTuningCache}
}

// applyTuningCache applies the entry of DefaultTuningCachePath for d, if any
// (see Open). A missing, unreadable or corrupt cache, and an entry the device
// cannot hold (tiles out of range included), leave the shipped defaults:
// opening must not fail for a cache. TuningCacheError tells why a cache was
// not applied.
func (d *Device) applyTuningCache() {
	path, err := DefaultTuningCachePath()
	if err != nil || path == "" { // no cache folder: nothing to apply
		return
	}
	c, err := LoadTuningCache(path)
	if err != nil {
		d.tuningCacheErr = fmt.Errorf("%w; using the shipped tiles", err)
		return
	}
	if t, ok := c.Lookup(d.info); ok {
		if err := d.SetTuning(t); err != nil {
			d.tuningCacheErr = fmt.Errorf("gpu: tuning cache %s: entry %q: %w; using the shipped tiles", path, TuningKey(d.info), err)
		}
	}
}

// TuningCacheError is why Open did not apply the tuning cache (unreadable, not
// a cache, or an entry this device cannot hold: the shipped tiles are used),
// nil where it applied or had no entry for the device. A caller that reports
// to a user shows it as a warning.
func (d *Device) TuningCacheError() error { return d.tuningCacheErr }
