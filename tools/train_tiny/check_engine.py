#!/usr/bin/python3
"""Checks an exported model against the C++ engine: for a few kvlab-synth
multi-request prompts, PyTorch greedy decoding (TinyLlama and the independent
tools/reference forward pass) must give the same answer as
`kvlab-generate --chat`. Prints one line per prompt; exit 1 on a mismatch.

  check_engine.py --model DIR [--tasks kv,passkey] [--ctx 288]
"""
import argparse
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import model as M  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import make_fixture_tokenizer as fx  # noqa: E402
import reference_model as ref  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
USER = "<|start_header_id|>user<|end_header_id|>\n\n"


@torch.no_grad()
def greedy(forward, ids, eos, max_new=40, include_eos=False):
    """Greedy decoding with a full forward pass per token (forward: ids ->
    logits [T, vocab]); stops at an id in eos, returned only with include_eos."""
    ids = list(ids)
    out = []
    for _ in range(max_new):
        nxt = int(forward(ids).argmax(-1)[-1])
        if nxt in eos:
            return out + [nxt] if include_eos else out
        out.append(nxt)
        ids.append(nxt)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tasks", default="kv,passkey")
    ap.add_argument("--ctx", type=int, default=288)
    ap.add_argument("--count", type=int, default=2)
    ap.add_argument("--build", default=os.path.join(REPO, "build-train"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    synth = os.path.join(a.build, "tools", "kvlab-synth")
    gen = os.path.join(a.build, "tools", "kvlab-generate")
    r = ref.ReferenceModel.from_dir(a.model)
    tiny = M.load_exported(a.model)
    tiny.eval()
    eos = {5, 2}
    # decodes the PyTorch answer with the model's byte-level tokenizer, to compare with kvlab-generate's text
    with open(os.path.join(a.model, "tokenizer.json")) as f:
        vocab = {i: t for t, i in json.load(f)["model"]["vocab"].items()}
    u2b = {u: b for b, u in fx.bytes_to_unicode().items()}
    bad = 0
    for task in a.tasks.split(","):
        # one kvlab-synth call gives both the ids PyTorch is fed and the text kvlab-generate is given
        recs = [x for x in data.synth(synth, a.model, task, 3, 2000000, a.count, a.ctx, "multi_request", text=True)
                if x["turn"] == 0]
        for rec in recs:
            start = rec["answer_spans"][0][0]
            prompt_ids = rec["ids"][:start]
            a_ref = greedy(lambda ids: r.forward(ids), prompt_ids, eos)
            a_tiny = greedy(lambda ids: tiny(torch.tensor([ids]))[0], prompt_ids, eos)
            body = rec["text"][rec["text"].index(USER) + len(USER):rec["text"].index("<|eot_id|>")]
            cpp = subprocess.run([gen, f"--model={a.model}", f"--prompt={body}", "--chat", "--max_new_tokens=40"],
                                 check=True, capture_output=True, text=True)
            cpp_text = cpp.stdout.rstrip("\n")
            py_text = bytes(u2b[c] for i in a_tiny for c in vocab[i]).decode("utf-8", "replace")
            gold = rec["text"][rec["answer_chars"][0][0]:rec["answer_chars"][0][1]].replace("<|eot_id|>", "")
            ok = a_ref == a_tiny and py_text == cpp_text
            bad += not ok
            print(json.dumps({"task": task, "prompt_tokens": len(prompt_ids), "gold": gold, "pytorch": py_text,
                              "cpp": cpp_text, "reference_equal": a_ref == a_tiny, "match": ok}))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
