#!/usr/bin/python3
"""Exports a training checkpoint to a Hugging Face model directory with a
README.md (hyperparameters, data mix, wall time, hardware, learning curve).

  export.py --run /work/train-runs/r1 --out models/kvlab-tiny-... [--bf16]
"""
import argparse
import json
import os
import platform
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import model as M  # noqa: E402


def hardware():
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {cpu}"


def phases(history):
    """train.py records its flags at every start; a phase begins only where
    they changed (--resume itself is not a change)."""
    out = []
    for h in history:
        flags = {k: v for k, v in h["args"].items() if k != "resume"}
        if not out or flags != {k: v for k, v in out[-1]["args"].items() if k != "resume"}:
            out.append(h)
    return out


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f]


def read_args(run):
    """The flags a training run was last started with (RUN/args.json)."""
    with open(os.path.join(run, "args.json")) as f:
        return json.load(f)


def ancestors(args):
    """The runs this one started from, oldest first: a run whose --init_from is
    another run's export directory (RUN/export) continues that run's weights.
    Returns (runs, root): root is the --init_from of the oldest run when it is
    not a run kept here (e.g. a shipped model directory), else None."""
    out = []
    init = args.get("init_from")
    while init:
        run = os.path.dirname(os.path.abspath(init))
        if not os.path.exists(os.path.join(run, "args.json")):
            return out, init
        a = read_args(run)
        out.insert(0, (run, a, read_jsonl(os.path.join(run, "log.jsonl")),
                       read_jsonl(os.path.join(run, "args_history.jsonl"))))
        init = a.get("init_from")
    return out, None


def lineage_lines(chain, root):
    """One row per earlier run of the lineage (weights carried by --init_from),
    and a sentence naming the model directory the oldest one started from."""
    if not chain:
        return []
    lines = ["", "## Lineage (earlier runs whose weights this run continues)", "",
             "| run | layers | steps | wall time | phases (tasks; lr; schedule) | last eval |", "|---|---|---|---|---|---|"]
    for run, a, log, history in chain:
        last = log[-1] if log else {}
        evals = [r for r in log if "eval" in r]
        ph = "; ".join(f"from {h['from_step']}: `{h['args']['tasks']}` lr {h['args']['lr']} `{h['args']['schedule']}`"
                       for h in phases(history))
        ev = ", ".join(f"{k} {v}" for k, v in evals[-1]["eval"].items()) if evals else "-"
        lines.append(f"| {os.path.basename(run)} | {a['layers']} | {last.get('step')} | "
                     f"{last.get('sec', 0) / 60:.1f} min | {ph} | {ev} |")
    if root:
        lines += ["", f"{os.path.basename(chain[0][0])} started from the model directory `{root}`, not made by a "
                      "run kept here: its training and wall time are not in this table (see the status paragraph)."]
    return lines


def readme(run, cfg, args, log, n_params, history=(), stages=None, status=""):
    last = log[-1] if log else {}
    evals = [r for r in log if "eval" in r]
    chain, root = ancestors(args)
    total_sec = last.get("sec", 0) + sum(l[-1].get("sec", 0) for _, _, l, _ in chain if l)
    total = ""
    if chain:
        total = f"; with the earlier runs it continues (Lineage below): {total_sec / 3600:.2f} h"
        if root:
            total += " (not counting the model the oldest started from)"
    lines = [
        "# kvlab tiny retrieval model", "",
        "Trained by `tools/train_tiny` (issue 9) on kvlab's own synthetic SCBench-style tasks, rendered "
        "by `kvlab-synth` exactly as the evaluator feeds them (Llama-3 chat template, multi-turn and "
        "multi-request).", ""] + ([f"**Status.** {status}", ""] if status else []) + [
        f"* Parameters: {n_params/1e6:.2f}M — {cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, "
        f"{cfg['num_attention_heads']} heads x {cfg['head_dim']} (kv heads {cfg['num_key_value_heads']}), "
        f"ffn {cfg['intermediate_size']}, vocab {cfg['vocab_size']} (byte-level BPE trained by the recipe), "
        f"rope_theta {cfg['rope_theta']}",
        f"* Data mix (task:weight): `{args['tasks']}`; multi-request share {args['mr_frac']}; "
        f"share of steps at a shorter curriculum length {args.get('review', data.DEFAULT_REVIEW)}",
        f"* Curriculum (step:context tokens): `{args['schedule']}`; tokens per batch {args['tokens_per_batch']}",
        f"* Optimizer: AdamW lr {args['lr']} (warmup {args['warmup']}, cosine to 10%), wd {args['wd']}, "
        f"answer loss + {args.get('first_weight', 0)} x first-answer-token loss + {args['lm_weight']} x LM loss; "
        f"seed {args['seed']}",
        f"* Steps: {last.get('step')}; wall time {last.get('sec', 0)/3600:.2f} h on {hardware()} "
        f"with {args['threads']} thread(s), PyTorch {torch.__version__}"
        + total, "",
        "## Learning curve (exact match, teacher-forced = greedy, PyTorch)", "",
        "| step | seconds | ctx | answer loss | eval |", "|---|---|---|---|---|",
    ]
    for r in evals:
        lines.append(f"| {r['step']} | {r['sec']} | {r['ctx']} | {r['ans_loss']} | "
                     + ", ".join(f"{k} {v}" for k, v in r["eval"].items()) + " |")
    if history:
        lines += ["", "## Phases (the command's flags changed at these steps)", "",
                  "| from step | tasks | mr share | shorter-length share | schedule / gate | lr | first-token weight | init |",
                  "|---|---|---|---|---|---|---|---|"]
        for h in phases(history):
            x = h["args"]
            order = " in order" if x.get("ordered") else ""
            lines.append(f"| {h['from_step']} | `{x['tasks']}`, {x.get('turns', 5)} turns{order} | {x['mr_frac']} | "
                         f"{x.get('review', data.DEFAULT_REVIEW)} | `{x['schedule']}` gate `{x.get('gate') or '-'}` | {x['lr']} | {x.get('first_weight', 0)} | "
                         f"{x.get('init_from') or '-'} |")
    lines += lineage_lines(chain, root)
    if stages:
        lines += ["", "Curriculum stages reached (step: context tokens): "
                  + ", ".join(f"{s}: {c}" for s, c in stages) + "."]
    lines += ["", "Regenerate: see tools/train_tiny/README.md.", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--status", default="", help="a paragraph on what the model can do so far (README)")
    a = ap.parse_args()
    m, st = M.load_checkpoint(a.run)
    args = read_args(a.run)
    log = read_jsonl(os.path.join(a.run, "log.jsonl"))
    M.export(m, args["tokenizer"], a.out, torch.bfloat16 if a.bf16 else torch.float32)
    history = read_jsonl(os.path.join(a.run, "args_history.jsonl"))
    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write(readme(a.run, st["config"], args, log, sum(p.numel() for p in m.parameters()), history,
                       st.get("stages"), a.status))
    print(f"exported step {st['step']} to {a.out}")


if __name__ == "__main__":
    main()
