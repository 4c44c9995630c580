"""Trainable Llama (HF LlamaForCausalLM parameter names and semantics) and its
export to a Hugging Face model directory. RoPE, RMSNorm and rotate_half come
from tools/reference/reference_model.py, so training and the reference
forward pass share one definition."""
import json
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import reference_model as ref  # noqa: E402
import safetensors_io  # noqa: E402


def llama_config(vocab, d_model, layers, heads, kv_heads, head_dim, ffn, rope_theta, max_pos, tie=False):
    return {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 5, "head_dim": head_dim, "hidden_act": "silu",
        "hidden_size": d_model, "initializer_range": 0.02, "intermediate_size": ffn,
        "max_position_embeddings": max_pos, "mlp_bias": False, "model_type": "llama",
        "num_attention_heads": heads, "num_hidden_layers": layers, "num_key_value_heads": kv_heads,
        "pretraining_tp": 1, "rms_norm_eps": 1e-5, "rope_scaling": None, "rope_theta": float(rope_theta),
        "tie_word_embeddings": bool(tie), "torch_dtype": "float32", "transformers_version": "4.44.0",
        "use_cache": True, "vocab_size": vocab,
    }


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return ref.rms_norm(x, self.weight, self.eps)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["hidden_size"], c["head_dim"]
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.input_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(d, c["rms_norm_eps"])
        a = nn.Module()
        a.q_proj = nn.Linear(d, self.nh * hd, bias=False)
        a.k_proj = nn.Linear(d, self.nkv * hd, bias=False)
        a.v_proj = nn.Linear(d, self.nkv * hd, bias=False)
        a.o_proj = nn.Linear(self.nh * hd, d, bias=False)
        self.self_attn = a
        m = nn.Module()
        m.gate_proj = nn.Linear(d, c["intermediate_size"], bias=False)
        m.up_proj = nn.Linear(d, c["intermediate_size"], bias=False)
        m.down_proj = nn.Linear(c["intermediate_size"], d, bias=False)
        self.mlp = m

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        a = self.self_attn
        h = self.input_layernorm(x)
        q = a.q_proj(h).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = a.k_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = a.v_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + ref.rotate_half(q) * sin
        k = k * cos + ref.rotate_half(k) * sin
        rep = self.nh // self.nkv
        if rep > 1:
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        x = x + a.o_proj((p @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd))
        h = self.post_attention_layernorm(x)
        return x + self.mlp.down_proj(nn.functional.silu(self.mlp.gate_proj(h)) * self.mlp.up_proj(h))


class TinyLlama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        m = nn.Module()
        m.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        m.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        m.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.model = m
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        std = c["initializer_range"]
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, std)
        for layer in m.layers:  # scaled residual projections (GPT-2 style)
            nn.init.normal_(layer.self_attn.o_proj.weight, 0.0, std / math.sqrt(2 * c["num_hidden_layers"]))
            nn.init.normal_(layer.mlp.down_proj.weight, 0.0, std / math.sqrt(2 * c["num_hidden_layers"]))
        if c.get("tie_word_embeddings"):
            # One matrix embeds and unembeds (HF semantics): a head that moves a token's embedding
            # forward unchanged already raises that token's logit, so copying needs no learned
            # token-to-logit map. Induction formed in 300 steps tied vs 500 untied (copy task, 2 layers).
            self.lm_head.weight = m.embed_tokens.weight

    def forward(self, ids):
        """ids [B, T] -> logits [B, T, vocab]; causal (right padding is harmless)."""
        T = ids.shape[1]
        cos, sin = ref.rope_cos_sin(self.c, T)
        cos, sin = cos.to(ids.device), sin.to(ids.device)
        mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).triu(1)
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))


def load_weights(model, model_dir):
    """Copies an exported model directory's tensors into `model` (f32). Tensors
    the directory lacks keep their values; a tied lm_head follows embed_tokens."""
    state = model.state_dict()
    for k, v in safetensors_io.load_model_dir(model_dir).items():
        state[k] = v.float()
    if model.c.get("tie_word_embeddings"):
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state)


def load_exported(model_dir):
    """An exported model directory as a TinyLlama (its config.json and weights)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        model = TinyLlama(json.load(f))
    load_weights(model, model_dir)
    return model


def load_checkpoint(run):
    """A training run's RUN/ckpt.pt as (TinyLlama with its weights, the checkpoint dict)."""
    st = torch.load(os.path.join(run, "ckpt.pt"), map_location="cpu")
    model = TinyLlama(st["config"])
    model.load_state_dict(st["model"])
    return model, st


def export(model, tok_dir, out_dir, dtype=torch.float32):
    """Writes config.json, model.safetensors, tokenizer files, generation_config.json."""
    os.makedirs(out_dir, exist_ok=True)
    c = dict(model.c, torch_dtype="float32" if dtype == torch.float32 else "bfloat16")
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "do_sample": False, "eos_token_id": [5, 2],
                   "transformers_version": "4.44.0"}, f, indent=2, sort_keys=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        target = os.path.join(out_dir, name)
        if os.path.exists(target) and os.path.samefile(os.path.join(tok_dir, name), target):
            continue  # re-exporting over the model whose tokenizer trained it
        with open(os.path.join(tok_dir, name), "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    if c.get("tie_word_embeddings"):
        del tensors["lm_head.weight"]  # as HF saves tied models; loaders reuse embed_tokens
    safetensors_io.save_file(tensors, os.path.join(out_dir, "model.safetensors"))
