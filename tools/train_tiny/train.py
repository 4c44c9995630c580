#!/usr/bin/python3
"""Trains kvlab's tiny retrieval model on kvlab-synth data (issue 9).

  train.py --run /work/train-runs/r1 --tokenizer TOKDIR [--resume] [--export MODEL_DIR]

Loss: cross-entropy on the answer tokens (gold answer + end-of-turn) plus
--lm_weight times the loss on all other tokens. Curriculum: --schedule
"step:ctx,..." raises the context length (and so the number of kv pairs,
passkeys, strings...) over time; a chunk of steps reviews an earlier length
with probability --review (default 0.25). Eval: exact match (teacher-forced
argmax of every answer token == greedy decode) per task, logged to RUN/log.jsonl. Checkpoint:
RUN/ckpt.pt every --ckpt_every steps; --resume continues bit-for-bit on the same
hardware. Uses CUDA when available.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import model as M  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--synth", default=os.path.join(REPO, "build-train", "tools", "kvlab-synth"))
    ap.add_argument("--tasks", default="kv:4,passkey:2,prefix_suffix:1,vt:1,mf:1")
    ap.add_argument("--schedule", default="0:320,1500:512,3000:768,4500:1024")
    ap.add_argument("--tokens_per_batch", type=int, default=4096)
    ap.add_argument("--mr_frac", type=float, default=0.2, help="share of multi-request records")
    ap.add_argument("--review", type=float, default=data.DEFAULT_REVIEW,
                    help="share of step chunks trained at an earlier (shorter) curriculum length; too little "
                         "and the model retrieves only at the last length (r14 at 0.25: kv 87%% at 1024, 0 at 512)")
    ap.add_argument("--turns", type=int, default=5,
                    help="questions per training session (= needles in passkey, kv, ...); fewer is easier. "
                         "Evaluation always uses 5")
    ap.add_argument("--ordered", action="store_true",
                    help="training sessions ask their targets front to back (kvlab-synth --ordered_questions): "
                         "a positional stepping stone before content lookup; evaluation stays shuffled")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--lm_weight", type=float, default=0.0)
    ap.add_argument("--first_weight", type=float, default=0.0,
                    help="extra loss weight on each answer's first token (mean over them), the token that "
                         "needs the lookup; the rest of a UUID or number can follow by induction")
    ap.add_argument("--first_after", default="",
                    help="comma-separated tokenizer tokens (e.g. \"['\",\"\u0120'\" for vt's name lists): answer "
                         "tokens right after one of them also get the --first_weight loss")
    ap.add_argument("--d_model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv_heads", type=int, default=4)
    ap.add_argument("--head_dim", type=int, default=32)
    ap.add_argument("--ffn", type=int, default=256)
    ap.add_argument("--tie", action="store_true", help="tie lm_head to embed_tokens (tie_word_embeddings)")
    ap.add_argument("--rope_theta", type=float, default=10000.0)
    ap.add_argument("--max_pos", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval_every", type=int, default=250)
    ap.add_argument("--eval_count", type=int, default=12)
    ap.add_argument("--eval_ctx", default="", help="context lengths to evaluate; default first and last stage")
    ap.add_argument("--gate", default="",
                    help="e.g. kv,passkey:0.8 or passkey,kv_tok:0.8 (_tok: answer-token accuracy) — advance to the next --schedule length only when these tasks' "
                         "exact match at the current length reaches the threshold (the schedule's steps are "
                         "then ignored)")
    ap.add_argument("--ckpt_every", type=int, default=250)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init_from", help="start from the weights of an exported model directory (e.g. the "
                                        "shipped models/kvlab-tiny-v1; its config must match the model "
                                        "flags); ignored when --resume finds a checkpoint")
    ap.add_argument("--export", help="write the HF model directory here at the end")
    return ap.parse_args(argv)


def gate_key(task, ctx):
    """Eval key a --gate entry reads: "kv" is kv's exact match at ctx,
    "kv_tok" its answer-token accuracy."""
    if task.endswith("_tok"):
        return f"{task[:-4]}@{ctx}_tok"
    return f"{task}@{ctx}"


def opener_ids(tok_dir, tokens):
    """Ids of the comma-separated tokens in TOK_DIR/tokenizer.json's vocabulary."""
    if not tokens:
        return frozenset()
    with open(os.path.join(tok_dir, "tokenizer.json"), encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    missing = [t for t in tokens.split(",") if t not in vocab]
    if missing:
        raise SystemExit(f"--first_after: not in the tokenizer's vocabulary: {missing}")
    return frozenset(vocab[t] for t in tokens.split(","))


def lr_at(a, step):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    p = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def evaluate(model, evals, ctxs, device):
    model.eval()
    out = {}
    for ctx in ctxs:
        for t, recs in evals(ctx).items():
            acc, tok_acc = data.exact_match(model, recs, device)
            out[f"{t}@{ctx}"] = round(acc, 3)
            out[f"{t}@{ctx}_tok"] = round(tok_acc, 3)
    model.train()
    return out


def init_weights(model, cfg, model_dir):
    """Loads an exported model's weights (the optimizer starts fresh). When the flags ask for more layers
    than the model has, the model grows: the extra layers go on top with their attention and MLP output
    projections zeroed, so the grown model computes exactly what the loaded one did."""
    with open(os.path.join(model_dir, "config.json")) as f:
        theirs = json.load(f)
    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
            "head_dim", "tie_word_embeddings")
    diff = {k: (cfg[k], theirs.get(k)) for k in keys if cfg[k] != theirs.get(k)}
    if theirs["num_hidden_layers"] > cfg["num_hidden_layers"]:
        diff["num_hidden_layers"] = (cfg["num_hidden_layers"], theirs["num_hidden_layers"])
    if diff:
        raise SystemExit(f"--init_from {model_dir}: config differs from the model flags (ours, theirs): {diff} "
                         "(layers may grow, not shrink)")
    M.load_weights(model, model_dir)
    with torch.no_grad():
        for i in range(theirs["num_hidden_layers"], cfg["num_hidden_layers"]):
            model.model.layers[i].self_attn.o_proj.weight.zero_()
            model.model.layers[i].mlp.down_proj.weight.zero_()


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(a.run, exist_ok=True)
    random.seed(a.seed)
    torch.manual_seed(a.seed)
    tasks = [t.split(":")[0] for t in a.tasks.split(",")]
    weights = [float(t.split(":")[1]) for t in a.tasks.split(",")]
    schedule = [tuple(int(x) for x in s.split(":")) for s in a.schedule.split(",")]
    with open(os.path.join(a.tokenizer, "tokenizer.json")) as f:
        tok = json.load(f)
    vocab = len(tok["model"]["vocab"]) + len(tok["added_tokens"])
    cfg = M.llama_config(vocab, a.d_model, a.layers, a.heads, a.kv_heads, a.head_dim, a.ffn, a.rope_theta,
                         a.max_pos, a.tie)
    model = M.TinyLlama(cfg).to(device)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-8)
    step, elapsed, stages = 0, 0.0, None
    ckpt = os.path.join(a.run, "ckpt.pt")
    if a.resume and os.path.exists(ckpt):
        st = torch.load(ckpt, map_location=device)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed = st["step"], st["elapsed"]
        stages = st.get("stages")
        torch.set_rng_state(st["rng"])
        print(f"resumed at step {step}", flush=True)
    elif a.init_from:
        init_weights(model, cfg, a.init_from)
        print(f"initialized from {a.init_from}", flush=True)
    with open(os.path.join(a.run, "args.json"), "w") as f:
        json.dump(vars(a), f, indent=1)
    with open(os.path.join(a.run, "args_history.jsonl"), "a") as f:  # export.py lists the phases
        f.write(json.dumps({"from_step": step, "args": vars(a)}) + "\n")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params/1e6:.2f}M device {device} threads {a.threads}", flush=True)
    if a.gate:
        gate_tasks, gate_thr = a.gate.split(":")[0].split(","), float(a.gate.split(":")[1])
        # A schedule shortened on --resume drops the stages past its end.
        stages = [(at, c) for at, c in stages or [] if c in {x for _, x in schedule}] or [(0, schedule[0][1])]
    else:
        stages = schedule
    stream = data.Stream(a.synth, a.tokenizer, tasks, weights, a.seed, stages, a.tokens_per_batch, a.mr_frac,
                         review=a.review, turns=a.turns, ordered=a.ordered)
    stream.vocab = vocab
    stream.openers = opener_ids(a.tokenizer, a.first_after)
    eval_ctx = ([int(c) for c in a.eval_ctx.split(",")] if a.eval_ctx
                else sorted({schedule[0][1], schedule[-1][1]}))
    eval_cache = {}

    def evals(c):
        if c not in eval_cache:
            eval_cache[c] = data.eval_set(a.synth, a.tokenizer, tasks, a.seed + 1, a.eval_count, c, vocab)
        return eval_cache[c]
    log = open(os.path.join(a.run, "log.jsonl"), "a")
    t0 = time.time() - elapsed
    run_loss = run_ans_acc = run_first_acc = 0.0
    n_run = 0
    while step < a.steps:
        ctx, b = stream.batch(step)
        for g in opt.param_groups:
            g["lr"] = lr_at(a, step)
        ids, tgt = b["ids"].to(device), b["targets"].to(device)
        ans, first, real = b["answer"].to(device), b["first"].to(device), b["real"].to(device)
        logits = model(ids)
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                               reduction="none").view(tgt.shape)
        ans_loss = (ce * ans).sum() / ans.sum().clamp(min=1)
        other = real & ~ans
        loss = ans_loss
        if a.first_weight > 0:
            loss = loss + a.first_weight * (ce * first).sum() / first.sum().clamp(min=1)
        if a.lm_weight > 0:
            loss = loss + a.lm_weight * (ce * other).sum() / other.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            hit = logits.argmax(-1) == tgt
            run_ans_acc += float((hit & ans).sum() / ans.sum().clamp(min=1))
            run_first_acc += float((hit & first).sum() / first.sum().clamp(min=1))
        run_loss += float(ans_loss)
        n_run += 1
        step += 1
        if step % 25 == 0:
            rec = {"step": step, "sec": round(time.time() - t0, 1), "ctx": ctx, "B": ids.shape[0],
                   "T": ids.shape[1], "lr": round(lr_at(a, step - 1), 6), "ans_loss": round(run_loss / n_run, 4),
                   "ans_tok_acc": round(run_ans_acc / n_run, 3), "first_acc": round(run_first_acc / n_run, 3)}
            run_loss = run_ans_acc = run_first_acc = 0.0
            n_run = 0
            if step % a.eval_every == 0 or step == a.steps:
                cur = stages[-1][1] if a.gate else ctx
                rec["eval"] = evaluate(model, evals, sorted(set(eval_ctx) | {cur}), device)
                later = [c for _, c in schedule if c > cur]
                if a.gate and later and all(rec["eval"][gate_key(t, cur)] >= gate_thr for t in gate_tasks):
                    at = -(-step // stream.K) * stream.K
                    stages.append((at, later[0]))
                    rec["advance"] = {"step": at, "ctx": later[0]}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if step % a.ckpt_every == 0 or step == a.steps:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "elapsed": time.time() - t0, "rng": torch.get_rng_state(), "config": cfg,
                        "stages": stages}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
    if a.export:
        M.export(model, a.tokenizer, a.export)
        print(f"exported to {a.export}", flush=True)


def reexec_with_large_buffer_heap():
    """As kvlab's servers do (common/large_buffer_heap.h): glibc's heap on
    transparent huge pages, and freed blocks kept for reuse instead of being
    returned to the kernel. Activations are many MiB and are freed every step;
    on VMs where first-touching memory is slow this was most of a step at
    4096 tokens per batch (2.9 s -> 0.97 s per step). GLIBC_TUNABLES is read
    only at process start, hence the re-exec. KVLAB_HUGE_PAGES=0 opts out."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if os.environ.get("KVLAB_HUGE_PAGES") == "0" or "glibc.malloc.hugetlb" in tunables:
        return
    ours = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
    os.environ["GLIBC_TUNABLES"] = f"{tunables}:{ours}" if tunables else ours
    os.execv(sys.executable, [sys.executable] + sys.argv)


if __name__ == "__main__":
    reexec_with_large_buffer_heap()
    main()
