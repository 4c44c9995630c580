#!/usr/bin/env python3
"""Writes a small byte-level BPE tokenizer (HF tokenizer.json format, Llama-3
layout and chat template) for the tiny-llama3 fixture model (vocab 512).

Deterministic: the merges are learned greedily (ties broken by the smallest
pair) from a fixed built-in corpus, so regenerating gives identical bytes.

  /usr/bin/python3 tools/reference/make_fixture_tokenizer.py
"""
import collections
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "models", "fixtures", "tiny-llama3")
VOCAB_SIZE = 512
SPECIALS = ["<|reserved_special_token_0|>", "<|begin_of_text|>", "<|end_of_text|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
# Llama-3's pre-tokenizer split pattern.
SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
         "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
CORPUS = """
The key value store keeps every entry with a checksum. Extract the value corresponding to the
specified key in the JSON object below. The value associated with the specified key is:
{"8a1f": "3c9e", "b7d2": "0f41"} There is an important info hidden inside a lot of irrelevant
text. Find it and memorize it. The pass key is 71432. Remember it. 71432 is the pass key.
The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.
VAR ABCDE = 12345 VAR FGHIJ = VAR ABCDE What is the largest number in the list? 1, 2, 3, 4.
def compute(x):\n    return x * 2\n\nclass Cache:\n    pass\n
Prefill turns a shared context into a stored cache entry; the compressor applies the policy; the
decode worker fetches the entry, appends the query, and generates greedily. Sparse prefill patterns
such as A-shape and Tri-shape keep the first tokens and a local window; vertical and slash lines are
estimated from the last queries. Quantization keeps keys per channel and values per token.
Multi-turn sessions append the gold answer and the next question to the session cache, which is
checkpointed after every turn so that another worker can continue it.
"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tokenizer_json(vocab, merges):
    """tokenizer.json of a byte-level BPE in the Llama-3 layout (SPECIALS first,
    Llama-3 split regex, ByteLevel pre-tokenizer and decoder, BOS post-processor).
    `vocab` maps token -> id with SPECIALS at ids 0..len(SPECIALS)-1; `merges`
    lists merged pairs in order."""
    model_vocab = {t: i for t, i in vocab.items() if i >= len(SPECIALS)}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, s in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [1],
                                                     "tokens": ["<|begin_of_text|>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": model_vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }


def tokenizer_config(model_max_length):
    """tokenizer_config.json for tokenizer_json: BOS/EOS and the chat template."""
    return {
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def main():
    b2u = bytes_to_unicode()
    # Rough pre-tokenization (Python's re lacks \p{L}); merges are data, any
    # consistent set is a valid BPE.
    words = collections.Counter(re.findall(r" ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]+|\s+", CORPUS))
    seqs = {w: [b2u[b] for b in w.encode("utf-8")] for w in words}
    vocab = {}
    for i, s in enumerate(SPECIALS):
        vocab[s] = i
    for b in range(256):
        vocab[b2u[b]] = len(SPECIALS) + b
    merges = []
    while len(vocab) < VOCAB_SIZE:
        pairs = collections.Counter()
        for w, seq in seqs.items():
            for a, b in zip(seq, seq[1:]):
                pairs[(a, b)] += words[w]
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merged = best[0] + best[1]
        merges.append(best)
        vocab[merged] = len(vocab)
        for w, seq in seqs.items():
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and (seq[i], seq[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[w] = out
    tok = tokenizer_json(vocab, merges)
    config = tokenizer_config(512)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1, sort_keys=False)
        f.write("\n")
    with open(os.path.join(OUT, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(vocab)} tokens ({len(merges)} merges) to {OUT}")


if __name__ == "__main__":
    main()
