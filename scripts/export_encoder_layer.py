"""Exports a PyTorch TransformerEncoderLayer and an input to safetensors for `gpubench run`,
and PyTorch's own output to compare with. Needs only torch (no safetensors package).

  python3 scripts/export_encoder_layer.py DIR [--d-model 512 --heads 8 --d-ff 2048 --seq 128]
  go run ./cmd/gpubench run --layer encoder --heads HEADS --weights DIR/layer.safetensors \
      --input DIR/input.safetensors --output DIR/out.safetensors
  python3 scripts/export_encoder_layer.py --compare DIR     # max |clattn - PyTorch|
"""
import argparse
import json
import os
import struct
import sys

try:
    import torch
except ImportError:  # main says so after parsing the command line, so that -h works without it
    torch = None

# safetensors dtype names of the torch dtypes this script writes and reads.
DTYPE_NAMES = ("float32", "F32"), ("float64", "F64"), ("uint8", "U8")


def save(path, tensors):
    """Writes tensors (name -> torch.Tensor) as a safetensors file."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dict((getattr(torch, a), b) for a, b in DTYPE_NAMES)[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
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
    dtypes = dict((b, getattr(torch, a)) for a, b in DTYPE_NAMES)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = bytearray(data[8 + n + a:8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Export a PyTorch TransformerEncoderLayer (seed 0, dropout 0), an input and PyTorch's output "
        "to DIR as safetensors for `gpubench run`; with --compare, print max |clattn - PyTorch| of DIR's outputs.",
        epilog="DIR is created if missing. Writes DIR/layer.safetensors, DIR/input.safetensors (x: [1, seq, d_model]) "
        "and DIR/torch_out.safetensors; `gpubench run --output DIR/out.safetensors` writes what --compare reads.")
    p.add_argument("dir", metavar="DIR", help="folder for the files (created if missing)")
    p.add_argument("--compare", action="store_true",
                   help="compare DIR/out.safetensors (clattn) with DIR/torch_out.safetensors instead of exporting")
    p.add_argument("--d-model", type=int, default=512, help="model width (default 512)")
    p.add_argument("--heads", type=int, default=8, help="attention heads, dividing d_model (default 8)")
    p.add_argument("--d-ff", type=int, default=2048, help="feed-forward width (default 2048)")
    p.add_argument("--seq", type=int, default=128, help="sequence length of the input (default 128)")
    a = p.parse_args(argv)
    for name in ("d_model", "heads", "d_ff", "seq"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} {getattr(a, name)}: want >= 1")
    if a.d_model % a.heads:
        p.error(f"--heads {a.heads} does not divide --d-model {a.d_model}")
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if torch is None:
        sys.exit("export_encoder_layer.py: needs PyTorch, and python3 cannot import torch "
                 "(Debian: apt-get install python3-torch)")
    d = a.dir
    if a.compare:
        paths = [os.path.join(d, "out.safetensors"), os.path.join(d, "torch_out.safetensors")]
        for path in paths:
            if not os.path.isfile(path):
                sys.exit(f"export_encoder_layer.py: {path} is missing (run the export, then gpubench run --output {paths[0]})")
        got, want = load(paths[0])["out"], load(paths[1])["out"]
        if got.shape != want.shape:
            sys.exit(f"export_encoder_layer.py: shapes differ: clattn {list(got.shape)}, PyTorch {list(want.shape)}")
        print(f"max |clattn - PyTorch| = {(got - want).abs().max().item():.3g} (PyTorch output max {want.abs().max().item():.3g})")
        return
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(a.d_model, a.heads, a.d_ff, dropout=0.0, batch_first=True).eval()
    x = torch.randn(1, a.seq, a.d_model)
    files = [os.path.join(d, n) for n in ("layer.safetensors", "input.safetensors", "torch_out.safetensors")]
    save(files[0], layer.state_dict())
    save(files[1], {"x": x})
    with torch.no_grad():
        save(files[2], {"out": layer(x)})
    print("wrote " + ", ".join(files))


if __name__ == "__main__":
    main()
