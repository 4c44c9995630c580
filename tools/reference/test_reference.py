#!/usr/bin/python3
"""Self-check of the reference forward and the fixtures (not part of ctest):

  /usr/bin/python3 tools/reference/test_reference.py

 (a) regenerating the fixtures is byte-identical (twice, in fresh processes, vs models/fixtures)
 (b) causality: logits of prefix t do not change when later tokens change
 (c) llama3 rope_scaling changes inv_freq (kept / smoothed / divided bands all present)
 (d) Mistral sliding window changes late-position logits (rows >= window) and only those
 plus: safetensors round trip (bf16/f16/f32), index total_size, golden files match the reference.
"""

import copy
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402
from reference_model import ReferenceModel, compute_inv_freq, load_config  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(REPO, "models", "fixtures")
NAMES = ["tiny-llama3", "tiny-mistral", "tiny-qwen2"]


def hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        check.failed = True


check.failed = False


def test_regen_identical():
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(2):
            out = os.path.join(tmp, f"run{i}")
            subprocess.run([sys.executable, os.path.join(HERE, "make_fixtures.py"), "--out", out],
                           check=True, stdout=subprocess.DEVNULL)
            runs.append(hashes(out))
    check(runs[0] == runs[1], f"(a) two regenerations byte-identical ({len(runs[0])} files)")
    committed = hashes(FIX)
    # models/fixtures may hold extra files owned by others (e.g. tokenizer.json): compare ours
    same = all(committed.get(k) == v for k, v in runs[0].items())
    check(same, "(a) regeneration identical to models/fixtures")


def test_causal():
    for name in NAMES:
        m = ReferenceModel.from_dir(os.path.join(FIX, name))
        g = json.load(open(os.path.join(FIX, name, "golden.json")))
        ids = g["input_ids"] + g["decode_ids"]
        full = m.forward(ids)
        worst = 0.0
        for t in (0, 5, 23, 24, 30, 47, 50):
            alt = ids[: t + 1] + [(x * 7 + 13) % m.lm_head.shape[0] for x in ids[t + 1:]]
            a = m.forward(alt)
            worst = max(worst, float((a[: t + 1] - full[: t + 1]).abs().max()))
            p = m.forward(ids[: t + 1])
            worst = max(worst, float((p - full[: t + 1]).abs().max()))
            if t + 1 < len(ids):
                check(float((a[t + 1:] - full[t + 1:]).abs().max()) > 1e-3,
                      f"(b) {name}: changing tokens after {t} changes later rows")
        check(worst < 1e-5, f"(b) {name}: prefix logits unchanged by later tokens (max diff {worst:.1e})")


def test_llama3_rope():
    cfg = load_config(os.path.join(FIX, "tiny-llama3"))
    scaled = compute_inv_freq(cfg)
    plain_cfg = copy.deepcopy(cfg)
    plain_cfg["rope_scaling"] = None
    plain = compute_inv_freq(plain_cfg)
    legacy_cfg = copy.deepcopy(cfg)
    legacy_cfg["rope_scaling"]["type"] = legacy_cfg["rope_scaling"].pop("rope_type")
    check(torch.equal(compute_inv_freq(legacy_cfg), scaled), "(c) legacy key 'type' accepted")
    check(not torch.equal(scaled, plain), "(c) llama3 scaling changes inv_freq")
    rs = cfg["rope_scaling"]
    wavelen = 2 * math.pi / plain
    kept = wavelen < rs["original_max_position_embeddings"] / rs["high_freq_factor"]
    div = wavelen > rs["original_max_position_embeddings"] / rs["low_freq_factor"]
    mid = ~kept & ~div
    check(bool(kept.any() and div.any() and mid.any()),
          f"(c) all three bands present (kept {int(kept.sum())}, smoothed {int(mid.sum())}, "
          f"divided {int(div.sum())})")
    check(torch.equal(scaled[kept], plain[kept]), "(c) high frequencies kept")
    check(torch.allclose(scaled[div], plain[div] / rs["factor"]), "(c) low frequencies / factor")
    check(bool(((scaled[mid] < plain[mid]) & (scaled[mid] > plain[mid] / rs["factor"])).all()),
          "(c) medium frequencies strictly between")
    # and it changes the logits
    w = safetensors_io.load_model_dir(os.path.join(FIX, "tiny-llama3"))
    g = json.load(open(os.path.join(FIX, "tiny-llama3", "golden.json")))
    ids = g["input_ids"] + g["decode_ids"]
    d = (ReferenceModel(cfg, w).forward(ids) - ReferenceModel(plain_cfg, w).forward(ids)).abs()
    check(float(d[1:].max()) > 1e-2 and float(d[0].max()) < 1e-6,
          f"(c) rope scaling changes logits (max {float(d.max()):.3f}), not at position 0")


def test_sliding_window():
    cfg = load_config(os.path.join(FIX, "tiny-mistral"))
    W = cfg["sliding_window"]
    w = safetensors_io.load_model_dir(os.path.join(FIX, "tiny-mistral"))
    g = json.load(open(os.path.join(FIX, "tiny-mistral", "golden.json")))
    ids = g["input_ids"] + g["decode_ids"]
    nowin = copy.deepcopy(cfg)
    nowin["sliding_window"] = None
    d = (ReferenceModel(cfg, w).forward(ids) - ReferenceModel(nowin, w).forward(ids)).abs().amax(-1)
    check(float(d[:W].max()) == 0.0, f"(d) rows < {W} identical with/without window")
    check(float(d[W:].min()) > 1e-3,
          f"(d) every row >= {W} differs (min {float(d[W:].min()):.3f}, max {float(d[W:].max()):.3f})")
    # off-by-one guard: row W-1 sees keys 0..W-1 under both W and W+1; row W sees 1..W vs 0..W
    w1 = copy.deepcopy(cfg)
    w1["sliding_window"] = W + 1
    d1 = (ReferenceModel(cfg, w).forward(ids) - ReferenceModel(w1, w).forward(ids)).abs().amax(-1)
    check(float(d1[:W].max()) == 0.0 and float(d1[W]) > 1e-3, "(d) window boundary: i - W < j <= i")


def test_io_and_golden():
    t = {"a": torch.randn(3, 5).to(torch.bfloat16), "b": torch.randn(7).half(), "c": torch.randn(2, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "x.safetensors")
        safetensors_io.save_file(t, p, {"format": "pt"})
        back, meta = safetensors_io.load_file(p)
        check(meta == {"format": "pt"} and all(back[k].dtype == t[k].dtype and torch.equal(back[k], t[k])
                                                for k in t), "safetensors round trip bf16/f16/f32")
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        check(n % 8 == 0, "header padded to 8 bytes")
    idx = json.load(open(os.path.join(FIX, "tiny-llama3", "model.safetensors.index.json")))
    w = safetensors_io.load_model_dir(os.path.join(FIX, "tiny-llama3"))
    check(idx["metadata"]["total_size"] == sum(x.numel() * x.element_size() for x in w.values())
          and all(x.dtype == torch.bfloat16 for x in w.values()), "llama3 index total_size, bf16")
    for name in NAMES:
        d = os.path.join(FIX, name)
        g = json.load(open(os.path.join(d, "golden.json")))
        import numpy as np
        gold = torch.from_numpy(np.fromfile(os.path.join(d, g["logits_file"]), dtype="<f4")).view(*g["shape"])
        ref = ReferenceModel.from_dir(d).forward(g["input_ids"] + g["decode_ids"])
        ref64 = ReferenceModel.from_dir(d, torch.float64).forward(g["input_ids"] + g["decode_ids"])
        check(float((gold - ref).abs().max()) < 1e-5 and float((gold.double() - ref64).abs().max()) < 1e-4,
              f"{name}: golden matches reference (f64 diff {float((gold.double() - ref64).abs().max()):.1e}); "
              f"std {float(gold.std()):.3f} max|.| {float(gold.abs().max()):.3f}")
        cfg = load_config(d)
        check(("lm_head.weight" in safetensors_io.load_model_dir(d)) != bool(cfg["tie_word_embeddings"]),
              f"{name}: lm_head.weight present iff untied")


if __name__ == "__main__":
    torch.set_num_threads(1)
    test_regen_identical()
    test_causal()
    test_llama3_rope()
    test_sliding_window()
    test_io_and_golden()
    print("FAILED" if check.failed else "ALL OK")
    sys.exit(1 if check.failed else 0)
