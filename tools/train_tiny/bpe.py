#!/usr/bin/python3
"""Byte-level BPE trainer writing a Hugging Face tokenizer directory in the
Llama-3 layout (tokenizer.json, tokenizer_config.json with the Llama-3 chat
template, generation_config.json is written by the exporter).

Merges are learned greedily, most frequent pair first, ties broken by the
smallest pair, so the result is deterministic in the corpus. Pair counts are
updated incrementally (only words containing the merged pair are revisited).

  bpe.py --jsonl a.jsonl [--jsonl b.jsonl] --vocab 1024 --out DIR
"""
import argparse
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import make_fixture_tokenizer as fixture  # noqa: E402  (specials, split regex, chat template)

# Python approximation of the Llama-3 split regex (no \p{L} in `re`); the
# merges only need to be a consistent set, the engine applies the real regex.
PY_SPLIT = re.compile(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\w]?[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*"
                      r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL_RE = re.compile("|".join(re.escape(s) for s in fixture.SPECIALS))


def word_counts(texts):
    counts = collections.Counter()
    for t in texts:
        for part in SPECIAL_RE.split(t):
            counts.update(PY_SPLIT.findall(part))
    return counts


def train(counts, vocab_size):
    b2u = fixture.bytes_to_unicode()
    words = list(counts)
    freq = [counts[w] for w in words]
    seqs = [[b2u[b] for b in w.encode("utf-8")] for w in words]
    vocab = {s: i for i, s in enumerate(fixture.SPECIALS)}
    for b in range(256):
        vocab[b2u[b]] = len(fixture.SPECIALS) + b
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    merges = []
    while len(vocab) < vocab_size and pairs:
        top = max(pairs.values())
        best = min(p for p, c in pairs.items() if c == top)
        merged = best[0] + best[1]
        merges.append(best)
        vocab[merged] = len(vocab)
        for i in sorted(where.pop(best, ())):
            s = seqs[i]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] -= freq[i]
                if pairs[(a, b)] <= 0:
                    del pairs[(a, b)]
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and (s[j], s[j + 1]) == best:
                    out.append(merged)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += freq[i]
                where[(a, b)].add(i)
        pairs.pop(best, None)
    return vocab, merges


def write(out_dir, vocab, merges, max_len):
    """tokenizer.json in the same layout as the fixture tokenizer (Llama-3)."""
    os.makedirs(out_dir, exist_ok=True)
    tok = fixture.tokenizer_json(vocab, merges)
    config = fixture.tokenizer_config(max_len)
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1, sort_keys=True)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsonl", action="append", required=True, help="kvlab-synth output (uses 'text')")
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--max_len", type=int, default=4096)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    texts = []
    for p in a.jsonl:
        with open(p) as f:
            texts += [json.loads(line)["text"] for line in f]
    vocab, merges = train(word_counts(texts), a.vocab)
    write(a.out, vocab, merges, a.max_len)
    print(f"bpe: {len(texts)} texts, vocab {len(vocab)}, {len(merges)} merges -> {a.out}")


if __name__ == "__main__":
    main()
