#!/usr/bin/python3
"""Writes golden.json for a shipped model, from references independent of
kvlab's C++ code, for tests/unit/shipped_model_test.cc:

* the model fingerprint, computed here from engine/fingerprint.cc's published
  definition (xxh3-128 over the canonical config and every tensor's name,
  dtype, shape and bytes; needs Debian's python3-xxhash);
* greedy answers of tools/reference's forward pass (not the trainer's model
  code) to a few fixed kvlab-synth prompts, with the gold answers.

  golden.py --model models/kvlab-tiny-... [--ctx 512] [--count 3]
"""
import argparse
import json
import os
import struct
import sys

import torch
import xxhash

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from check_engine import greedy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import reference_model as ref  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EOS = (5, 2)  # <|eot_id|>, <|end_of_text|>
MIN_MARGIN = 1e-3  # prompts whose greedy steps have a closer top-2 are not used


def canonical_config(cfg):
    """ModelConfig::Canonical for a Llama config without rope_scaling: compact
    JSON with sorted keys (nlohmann::json's dump)."""
    if cfg.get("rope_scaling"):
        raise SystemExit("golden.py: rope_scaling is not handled")
    heads = cfg["num_attention_heads"]
    j = {
        "architecture": cfg["architectures"][0],
        "vocab_size": cfg["vocab_size"],
        "hidden_size": cfg["hidden_size"],
        "intermediate_size": cfg["intermediate_size"],
        "num_layers": cfg["num_hidden_layers"],
        "num_heads": heads,
        "num_kv_heads": cfg.get("num_key_value_heads", heads),
        "head_dim": cfg.get("head_dim") or cfg["hidden_size"] // heads,
        "max_position_embeddings": cfg.get("max_position_embeddings", 4096),
        "rms_norm_eps": float(cfg.get("rms_norm_eps", 1e-6)),
        "rope_theta": float(cfg.get("rope_theta", 10000.0)),
        "rope_scaling": {"type": 0, "factor": 1.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 0},
        "tie_word_embeddings": cfg.get("tie_word_embeddings", False),
        "attention_bias": cfg.get("attention_bias", False),
        "sliding_window": None,
    }
    return json.dumps(j, sort_keys=True, separators=(",", ":"))


def fingerprint(model_dir):
    """engine/fingerprint.cc: strings and byte ranges are length-prefixed
    (u64 little endian); the digest prints as high64 then low64 in hex."""
    h = xxhash.xxh3_128()

    def u64(v):
        h.update(struct.pack("<Q", v))

    def string(b):
        b = b.encode() if isinstance(b, str) else b
        u64(len(b))
        h.update(b)

    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    string("kvlab-model-fingerprint-v1")
    string(canonical_config(cfg))
    path = os.path.join(model_dir, "model.safetensors")
    tensors, _, data_start = safetensors_io.read_header(path)
    u64(len(tensors))
    with open(path, "rb") as f:
        for name in sorted(tensors, key=lambda n: n.encode()):
            t = tensors[name]
            string(name)
            string(t["dtype"])
            u64(len(t["shape"]))
            for d in t["shape"]:
                u64(d)
            begin, end = t["data_offsets"]
            f.seek(data_start + begin)
            string(f.read(end - begin))
    d = h.intdigest()
    return f"{d >> 64:016x}{d & ((1 << 64) - 1):016x}"


@torch.no_grad()
def min_margin(model, prompt, answer):
    """Smallest gap between the top two logits over the greedy steps."""
    logits = model.forward(list(prompt) + answer[:-1])[len(prompt) - 1:]
    top = logits.topk(2, dim=-1).values
    return float((top[:, 0] - top[:, 1]).min())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tasks", default="passkey,kv")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--max_new", type=int, default=40)
    ap.add_argument("--synth", default=os.path.join(REPO, "build-train", "tools", "kvlab-synth"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = ref.ReferenceModel.from_dir(a.model)
    prompts = []
    for task in a.tasks.split(","):
        recs = data.synth(a.synth, a.model, task, 11, 3000000, 3 * a.count, a.ctx, "multi_request")
        kept = 0
        for r in (x for x in recs if x["turn"] == 0):
            begin, end = r["answer_spans"][0]
            answer = greedy(model.forward, r["ids"][:begin], EOS, a.max_new, include_eos=True)
            margin = min_margin(model, r["ids"][:begin], answer)
            print(json.dumps({"task": task, "index": r["index"], "prompt_tokens": begin, "min_margin": margin,
                              "correct": answer == r["ids"][begin:end]}), flush=True)
            if margin < MIN_MARGIN or kept == a.count:
                continue  # a near tie could go either way in f32 on another machine
            kept += 1
            prompts.append({"task": task, "index": r["index"], "context_tokens": a.ctx,
                            "prompt_ids": r["ids"][:begin], "gold_ids": r["ids"][begin:end],
                            "reference_greedy_ids": answer, "min_top2_margin": round(margin, 4)})
    out = {"note": "written by tools/train_tiny/golden.py (fingerprint recomputed in Python; greedy answers "
                   "from tools/reference, f32, ids fed directly; generation stops at and includes "
                   "<|eot_id|> or <|end_of_text|>)",
           "fingerprint": fingerprint(a.model), "max_new_tokens": a.max_new, "prompts": prompts}
    with open(os.path.join(a.model, "golden.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
