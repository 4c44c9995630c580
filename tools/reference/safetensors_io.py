"""Minimal, dependency-free (numpy + torch) reader/writer for the safetensors format.

Format (https://github.com/huggingface/safetensors):
  * 8 bytes: little-endian u64 N = length of the JSON header in bytes
  * N bytes: UTF-8 JSON object. Every key except "__metadata__" names a tensor:
        {"dtype": "F32"|"F16"|"BF16"|..., "shape": [..], "data_offsets": [begin, end]}
    offsets are relative to the start of the data section (byte 8 + N) and the tensors tile
    the data section exactly. "__metadata__" is an optional str->str map.
    The header may be padded with trailing spaces (we pad to a multiple of 8).
  * the raw little-endian, row-major tensor data.

bf16 has no numpy dtype: it is moved as int16 bit patterns and reinterpreted with torch.
"""

import json
import os
import struct

import numpy as np
import torch

# safetensors dtype string -> (numpy storage dtype, torch dtype, element size)
_DTYPES = {
    "F64": (np.dtype("<f8"), torch.float64, 8),
    "F32": (np.dtype("<f4"), torch.float32, 4),
    "F16": (np.dtype("<f2"), torch.float16, 2),
    "BF16": (np.dtype("<i2"), torch.bfloat16, 2),  # bit pattern, reinterpreted
    "I64": (np.dtype("<i8"), torch.int64, 8),
    "I32": (np.dtype("<i4"), torch.int32, 4),
    "I16": (np.dtype("<i2"), torch.int16, 2),
    "I8": (np.dtype("i1"), torch.int8, 1),
    "U8": (np.dtype("u1"), torch.uint8, 1),
    "BOOL": (np.dtype("?"), torch.bool, 1),
}
_TORCH_TO_ST = {v[1]: k for k, v in _DTYPES.items()}

MAX_HEADER = 100 * 1024 * 1024


def read_header(path):
    """Returns (header dict without __metadata__, metadata dict, data section start offset)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: file too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER:
            raise ValueError(f"{path}: header length {n} too large")
        hdr = f.read(n)
        if len(hdr) != n:
            raise ValueError(f"{path}: truncated header")
    header = json.loads(hdr.decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    return header, meta, 8 + n


def load_file(path):
    """Loads every tensor of a .safetensors file. Returns (dict name -> torch.Tensor, metadata)."""
    header, meta, start = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    # validate that the tensors tile the data section
    spans = sorted((tuple(v["data_offsets"]), k) for k, v in header.items())
    pos = 0
    for (b, e), k in spans:
        if b != pos or e < b:
            raise ValueError(f"{path}: tensor {k} offsets {b},{e} do not tile the data (expected {pos})")
        pos = e
    if pos != len(data):
        raise ValueError(f"{path}: data section is {len(data)} bytes, tensors cover {pos}")
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        np_dt, t_dt, size = _DTYPES[dt]
        shape = [int(s) for s in info["shape"]]
        b, e = info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if e - b != count * size:
            raise ValueError(f"{path}: tensor {name}: {e - b} bytes for shape {shape} {dt}")
        arr = np.frombuffer(data, dtype=np_dt, count=count, offset=b).copy().reshape(shape)
        t = torch.from_numpy(arr)
        if dt == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t
    return out, meta


def tensor_bytes(t):
    """Raw little-endian bytes of a tensor in its own dtype (row-major)."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    np_dt = _DTYPES[_TORCH_TO_ST[t.dtype]][0]
    return t.numpy().astype(np_dt).tobytes()


def serialize(tensors, metadata=None):
    """Serializes dict name -> tensor to safetensors bytes, tensors in sorted name order,
    deterministic JSON (sorted keys, compact), header padded with spaces to 8 bytes."""
    header = {}
    blobs = []
    pos = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _TORCH_TO_ST:
            raise ValueError(f"tensor {name}: unsupported dtype {t.dtype}")
        b = tensor_bytes(t)
        header[name] = {"dtype": _TORCH_TO_ST[t.dtype], "shape": list(t.shape),
                        "data_offsets": [pos, pos + len(b)]}
        blobs.append(b)
        pos += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hdr = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    hdr += b" " * ((8 - len(hdr) % 8) % 8)
    return struct.pack("<Q", len(hdr)) + hdr + b"".join(blobs)


def save_file(tensors, path, metadata=None):
    data = serialize(tensors, metadata)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load_model_dir(model_dir):
    """Loads all tensors of a HF model dir: model.safetensors, or the shards listed in
    model.safetensors.index.json. Returns dict name -> tensor (stored dtype)."""
    single = os.path.join(model_dir, "model.safetensors")
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            idx = json.load(f)
        weight_map = idx["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            tensors, _ = load_file(os.path.join(model_dir, shard))
            for name, t in tensors.items():
                if weight_map.get(name) != shard:
                    raise ValueError(f"{shard}: tensor {name} not mapped to this shard in the index")
                if name in out:
                    raise ValueError(f"duplicate tensor {name}")
                out[name] = t
        missing = set(weight_map) - set(out)
        if missing:
            raise ValueError(f"index names tensors not found in shards: {sorted(missing)[:5]}")
        return out
    if os.path.exists(single):
        return load_file(single)[0]
    raise FileNotFoundError(f"{model_dir}: no model.safetensors or model.safetensors.index.json")
