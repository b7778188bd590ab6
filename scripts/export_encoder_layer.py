"""Exports a PyTorch TransformerEncoderLayer and an input to safetensors for `gpubench run`,
and PyTorch's own output to compare with. Needs only torch (no safetensors package).

  python3 scripts/export_encoder_layer.py DIR [d_model heads d_ff seq]
  go run ./cmd/gpubench run --layer encoder --heads HEADS --weights DIR/layer.safetensors \
      --input DIR/input.safetensors --output DIR/out.safetensors
  python3 scripts/export_encoder_layer.py --compare DIR     # max |clattn - PyTorch|
"""
import json
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.uint8: "U8"}
NUMPY = {"F32": torch.float32, "F64": torch.float64, "U8": torch.uint8}


def save(path, tensors):
    """Writes tensors (name -> torch.Tensor) as a safetensors file."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load(path):
    """Reads a safetensors file into name -> torch.Tensor."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = bytearray(data[8 + n + a:8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=NUMPY[info["dtype"]]).reshape(info["shape"])
    return out


def main():
    if sys.argv[1] == "--compare":
        d = sys.argv[2]
        got, want = load(f"{d}/out.safetensors")["out"], load(f"{d}/torch_out.safetensors")["out"]
        print(f"max |clattn - PyTorch| = {(got - want).abs().max().item():.3g} (PyTorch output max {want.abs().max().item():.3g})")
        return
    d = sys.argv[1]
    e, heads, ff, seq = (int(a) for a in (sys.argv[2:6] if len(sys.argv) > 5 else (512, 8, 2048, 128)))
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(e, heads, ff, dropout=0.0, batch_first=True).eval()
    x = torch.randn(1, seq, e)
    save(f"{d}/layer.safetensors", layer.state_dict())
    save(f"{d}/input.safetensors", {"x": x})
    with torch.no_grad():
        save(f"{d}/torch_out.safetensors", {"out": layer(x)})
    print(f"wrote {d}/layer.safetensors, {d}/input.safetensors, {d}/torch_out.safetensors")


if __name__ == "__main__":
    main()
