#!/usr/bin/python3
"""Creates the tiny random-weight HF-format fixture models under models/fixtures/ plus golden
logits computed by reference_model.py. Deterministic: re-running produces byte-identical files
(fixed torch seeds, tensors written in sorted name order, JSON with sorted keys and fixed format,
single-threaded f32 CPU forward).

  /usr/bin/python3 tools/reference/make_fixtures.py [--out models/fixtures] [--seed 1234]
"""

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402
from reference_model import ReferenceModel, load_config  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
N_PROMPT = 48
N_DECODE = 8
TRANSFORMERS_VERSION = "4.44.0"


def write_json(path, obj):
    data = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_bytes(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# configs (realistic HF config.json contents, tiny numbers)

def llama3_config():
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": 16,
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "max_position_embeddings": 512,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "num_key_value_heads": 2,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        # original_max_position_embeddings=64 with head_dim 16 / theta 5e5 gives wavelengths
        # 6.3 (kept), 32.5 (medium band [16, 64]: smoothed), >=167 (divided by factor).
        "rope_scaling": {
            "factor": 8.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 64,
            "rope_type": "llama3",
        },
        "rope_theta": 500000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": 512,
    }


def mistral_config():
    return {
        "architectures": ["MistralForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": 8,
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 128,
        "max_position_embeddings": 512,
        "model_type": "mistral",
        "num_attention_heads": 8,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "sliding_window": 24,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": 512,
    }


def qwen2_config():
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "max_position_embeddings": 512,
        "max_window_layers": 2,
        "model_type": "qwen2",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 512,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": 512,
    }


# ---------------------------------------------------------------------------------------------
# weights

def weight_specs(cfg, qkv_bias):
    """name -> (shape, kind). kind selects the init distribution."""
    H = cfg["hidden_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // nh
    I, V = cfg["intermediate_size"], cfg["vocab_size"]
    s = {"model.embed_tokens.weight": ([V, H], "embed"), "model.norm.weight": ([H], "norm")}
    if not cfg["tie_word_embeddings"]:
        s["lm_head.weight"] = ([V, H], "head")
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        s[p + "input_layernorm.weight"] = ([H], "norm")
        s[p + "post_attention_layernorm.weight"] = ([H], "norm")
        s[p + "self_attn.q_proj.weight"] = ([nh * hd, H], "qk")
        s[p + "self_attn.k_proj.weight"] = ([nkv * hd, H], "qk")
        s[p + "self_attn.v_proj.weight"] = ([nkv * hd, H], "proj")
        s[p + "self_attn.o_proj.weight"] = ([H, nh * hd], "proj")
        s[p + "mlp.gate_proj.weight"] = ([I, H], "proj")
        s[p + "mlp.up_proj.weight"] = ([I, H], "proj")
        s[p + "mlp.down_proj.weight"] = ([H, I], "proj")
        if qkv_bias:
            s[p + "self_attn.q_proj.bias"] = ([nh * hd], "bias")
            s[p + "self_attn.k_proj.bias"] = ([nkv * hd], "bias")
            s[p + "self_attn.v_proj.bias"] = ([nkv * hd], "bias")
    return s


def make_weights(cfg, seed, dtype, qkv_bias=False):
    g = torch.Generator().manual_seed(seed)
    # std per kind; chosen so that attention is neither uniform nor one-hot and logits are O(1)
    tied = cfg["tie_word_embeddings"]
    std = {"embed": 0.2 if tied else 0.5, "head": 0.2, "qk": 0.15, "proj": 0.1, "bias": 0.2}
    out = {}
    for name, (shape, kind) in sorted(weight_specs(cfg, qkv_bias).items()):
        if kind == "norm":
            t = 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float32)
        else:
            t = std[kind] * torch.randn(shape, generator=g, dtype=torch.float32)
        out[name] = t.to(dtype)
    return out


# ---------------------------------------------------------------------------------------------

def write_model(out_dir, cfg, weights, shards=1):
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, "config.json"), cfg)
    write_json(os.path.join(out_dir, "generation_config.json"), {
        "_from_model_config": True,
        "bos_token_id": cfg["bos_token_id"],
        "eos_token_id": cfg["eos_token_id"],
        "transformers_version": TRANSFORMERS_VERSION,
    })
    meta = {"format": "pt"}
    if shards == 1:
        safetensors_io.save_file(weights, os.path.join(out_dir, "model.safetensors"), meta)
        return
    # HF-style split: layer-ordered, embeddings first, final norm / lm_head last
    L = cfg["num_hidden_layers"]

    def order(name):
        if name.startswith("model.embed_tokens"):
            return -1
        if name.startswith("model.layers."):
            return int(name.split(".")[2])
        return L

    per = (L + 1 + shards - 1) // shards  # layer buckets (embed goes with layer 0)
    buckets = [dict() for _ in range(shards)]
    for name, t in weights.items():
        buckets[min(max(order(name), 0) // per, shards - 1)][name] = t
    weight_map, total = {}, 0
    for i, b in enumerate(buckets):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        safetensors_io.save_file(b, os.path.join(out_dir, fname), meta)
        for name, t in b.items():
            weight_map[name] = fname
            total += t.numel() * t.element_size()
    write_json(os.path.join(out_dir, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})


def write_golden(out_dir, seed, note):
    cfg = load_config(out_dir)
    g = torch.Generator().manual_seed(seed + 7919)
    V = cfg["vocab_size"]
    prompt = [cfg["bos_token_id"]] + torch.randint(3, V, (N_PROMPT - 1,), generator=g).tolist()
    decode = torch.randint(3, V, (N_DECODE,), generator=g).tolist()
    model = ReferenceModel.from_dir(out_dir, torch.float32)  # reads back what was written
    logits = model.forward(prompt + decode)
    assert logits.shape == (N_PROMPT + N_DECODE, V)
    write_bytes(os.path.join(out_dir, "golden_logits.f32"), logits.numpy().astype("<f4").tobytes())
    write_json(os.path.join(out_dir, "golden.json"), {
        "input_ids": prompt,
        "decode_ids": decode,
        "logits_file": "golden_logits.f32",
        "shape": [N_PROMPT + N_DECODE, V],
        "dtype": "float32",
        "note": note + " Row t = logits after token t of input_ids + decode_ids, from one full "
                "causal forward (tools/reference/reference_model.py, f32 CPU) over the weights as "
                "stored (converted to f32). Raw little-endian f32, row-major. Test: prefill "
                "input_ids, then decode decode_ids one token at a time, compare every row.",
    })
    ref64 = ReferenceModel.from_dir(out_dir, torch.float64).forward(prompt + decode)
    return logits, float((logits.double() - ref64).abs().max())


FIXTURES = [
    # name, config fn, stored dtype, shards, qkv_bias, note
    ("tiny-llama3", llama3_config, torch.bfloat16, 2, False,
     "Random-weight LlamaForCausalLM, GQA 4q/2kv, head_dim 16, llama3 rope_scaling, bf16 weights in 2 shards."),
    ("tiny-mistral", mistral_config, torch.float16, 1, False,
     "Random-weight MistralForCausalLM, GQA 8q/2kv, head_dim 8, sliding_window 24 (affects rows >= 24), f16 weights."),
    ("tiny-qwen2", qwen2_config, torch.float32, 1, True,
     "Random-weight Qwen2ForCausalLM, q/k/v biases, GQA 4q/2kv, tied embeddings, f32 weights."),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "models", "fixtures"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--only", help="comma-separated fixture names")
    a = ap.parse_args()
    torch.set_num_threads(1)  # fixed reduction order -> byte-identical golden logits
    only = set(a.only.split(",")) if a.only else None
    for idx, (name, cfg_fn, dtype, shards, bias, note) in enumerate(FIXTURES):
        if only and name not in only:
            continue
        out_dir = os.path.join(a.out, name)
        seed = a.seed + 1000 * idx
        cfg = cfg_fn()
        write_model(out_dir, cfg, make_weights(cfg, seed, dtype, bias), shards)
        logits, d64 = write_golden(out_dir, seed, note)
        print(f"{name}: logits std {float(logits.std()):.4f} max|.| {float(logits.abs().max()):.4f} "
              f"max|f32-f64| {d64:.2e}")


if __name__ == "__main__":
    main()
