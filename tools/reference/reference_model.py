#!/usr/bin/python3
"""Independent reference forward pass (PyTorch, CPU) for LlamaForCausalLM, MistralForCausalLM and
Qwen2ForCausalLM, following the Hugging Face `transformers` modelling code semantics:

  x = embed_tokens[ids]
  per layer:
    h = RMSNorm(x) ; q,k,v = proj(h) (+bias if present: Qwen2 q/k/v, Llama attention_bias)
    RoPE (HF rotate_half / non-interleaved, rope_theta, optional llama3 rope_scaling) on q,k
    GQA: query head h uses kv head h // (n_heads / n_kv_heads)   (HF repeat_kv)
    causal softmax(q k^T / sqrt(head_dim)) v, Mistral sliding window: i - W < j <= i
    x = x + o_proj(attn)
    x = x + down(silu(gate(RMSNorm(x))) * up(RMSNorm(x)))
  logits = lm_head(RMSNorm(x))  (lm_head = embed_tokens when tie_word_embeddings)

All compute is done in `dtype` (float32 by default; float64 for cross-checks) from the stored
weights converted to that dtype. Only a single sequence, full (no KV cache) forward.

CLI:  /usr/bin/python3 tools/reference/reference_model.py MODEL_DIR --ids 1,2,3 [--out logits.f32]
"""

import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SUPPORTED = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def head_dim_of(cfg):
    hd = cfg.get("head_dim")
    return int(hd) if hd else cfg["hidden_size"] // cfg["num_attention_heads"]


def compute_inv_freq(cfg, dtype=torch.float32):
    """HF `ROPE_INIT_FUNCTIONS`: 'default' and 'llama3' (`_compute_llama3_parameters`).
    Computed in float32 like HF, then cast to `dtype`."""
    dim = head_dim_of(cfg)
    base = float(cfg.get("rope_theta", 10000.0))
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.get("rope_scaling")
    if rs:
        rope_type = rs.get("rope_type", rs.get("type"))
        if rope_type in (None, "default"):
            pass
        elif rope_type == "llama3":
            factor = rs["factor"]
            low_freq_factor = rs["low_freq_factor"]
            high_freq_factor = rs["high_freq_factor"]
            old_context_len = rs["original_max_position_embeddings"]
            low_freq_wavelen = old_context_len / low_freq_factor
            high_freq_wavelen = old_context_len / high_freq_factor
            wavelen = 2 * math.pi / inv_freq
            inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
            smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
            is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
            inv_freq = torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
        else:
            raise NotImplementedError(f"rope_scaling type {rope_type!r}")
    return inv_freq.to(dtype)


def rope_cos_sin(cfg, n_pos, dtype=torch.float32):
    """cos/sin tables [n_pos, head_dim] as HF LlamaRotaryEmbedding (attention_factor 1.0)."""
    inv_freq = compute_inv_freq(cfg, torch.float32).to(dtype)  # HF computes inv_freq in f32
    pos = torch.arange(n_pos, dtype=dtype)
    freqs = pos[:, None] * inv_freq[None, :]  # == HF's inv_freq @ position_ids (exact products)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def sliding_window_of(cfg):
    """Window in tokens or None. Mistral: config.sliding_window (null = none).
    Qwen2: only when use_sliding_window (not supported here, like most deployments)."""
    arch = (cfg.get("architectures") or [""])[0]
    if arch == "Qwen2ForCausalLM" or cfg.get("model_type") == "qwen2":
        if cfg.get("use_sliding_window"):
            raise NotImplementedError("Qwen2 use_sliding_window=true")
        return None
    if arch == "MistralForCausalLM" or cfg.get("model_type") == "mistral":
        w = cfg.get("sliding_window")
        return int(w) if w else None
    return None


class ReferenceModel:
    def __init__(self, cfg, weights, dtype=torch.float32):
        arch = (cfg.get("architectures") or [""])[0]
        if arch not in SUPPORTED:
            raise NotImplementedError(f"architecture {arch!r}")
        if cfg.get("hidden_act", "silu") != "silu":
            raise NotImplementedError(f"hidden_act {cfg.get('hidden_act')}")
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads") or self.n_heads
        self.hd = head_dim_of(cfg)
        self.eps = float(cfg["rms_norm_eps"])
        self.window = sliding_window_of(cfg)
        if cfg.get("tie_word_embeddings", False):
            self.lm_head = self.w["model.embed_tokens.weight"]
        else:
            self.lm_head = self.w["lm_head.weight"]

    @classmethod
    def from_dir(cls, model_dir, dtype=torch.float32):
        return cls(load_config(model_dir), safetensors_io.load_model_dir(model_dir), dtype)

    def _lin(self, name, x):
        y = x @ self.w[name + ".weight"].t()
        b = self.w.get(name + ".bias")
        return y + b if b is not None else y

    @torch.no_grad()
    def forward(self, ids):
        """ids: list/1-D tensor of T token ids. Returns logits [T, vocab] in self.dtype."""
        ids = torch.as_tensor(ids, dtype=torch.int64)
        T = ids.shape[0]
        nh, nkv, hd = self.n_heads, self.n_kv, self.hd
        rep = nh // nkv
        cos, sin = rope_cos_sin(self.cfg, T, self.dtype)  # [T, hd]
        i = torch.arange(T)[:, None]
        j = torch.arange(T)[None, :]
        allowed = j <= i
        if self.window is not None:
            allowed = allowed & (j > i - self.window)
        x = self.w["model.embed_tokens.weight"][ids]  # [T, H]
        for l in range(self.n_layers):
            p = f"model.layers.{l}."
            h = rms_norm(x, self.w[p + "input_layernorm.weight"], self.eps)
            q = self._lin(p + "self_attn.q_proj", h).view(T, nh, hd).transpose(0, 1)
            k = self._lin(p + "self_attn.k_proj", h).view(T, nkv, hd).transpose(0, 1)
            v = self._lin(p + "self_attn.v_proj", h).view(T, nkv, hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(rep, dim=0)  # HF repeat_kv: head h -> kv head h // rep
            v = v.repeat_interleave(rep, dim=0)
            scores = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(hd))  # [nh, T, T]
            scores = scores.masked_fill(~allowed, float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            attn = (probs @ v).transpose(0, 1).reshape(T, nh * hd)
            x = x + self._lin(p + "self_attn.o_proj", attn)
            h = rms_norm(x, self.w[p + "post_attention_layernorm.weight"], self.eps)
            g = self._lin(p + "mlp.gate_proj", h)
            u = self._lin(p + "mlp.up_proj", h)
            x = x + self._lin(p + "mlp.down_proj", torch.nn.functional.silu(g) * u)
        x = rms_norm(x, self.w["model.norm.weight"], self.eps)
        return x @ self.lm_head.t()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    ap.add_argument("--out", help="write raw little-endian f32 logits [T, vocab] here")
    ap.add_argument("--f64", action="store_true", help="compute in float64")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ids = [int(s) for s in a.ids.split(",") if s.strip()]
    m = ReferenceModel.from_dir(a.model_dir, torch.float64 if a.f64 else torch.float32)
    logits = m.forward(ids).float()
    if a.out:
        with open(a.out, "wb") as f:
            f.write(logits.numpy().astype("<f4").tobytes())
    top = logits.argmax(-1).tolist()
    print(json.dumps({"shape": list(logits.shape), "argmax": top,
                      "std": float(logits.std()), "max_abs": float(logits.abs().max())}))


if __name__ == "__main__":
    main()
