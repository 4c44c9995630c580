"""Training data from kvlab-synth: deterministic batches of fully rendered
sessions (the evaluator's own prompt assembly) with answer-token loss masks."""
import json
import random
import subprocess

import torch

# Share of step chunks trained at an earlier (shorter) curriculum length, the
# default of Stream and train.py --review; runs from before the flag used it.
DEFAULT_REVIEW = 0.25

# Shortest context each generator accepts with 5 turns (1024-token BPE);
# shorter curriculum stages use this length for the task.
MIN_CTX = {"prefix_suffix": 448, "kv": 320, "vt": 288}


def synth(binary, tok_dir, task, seed, start, count, ctx, mode="both", turns=5, ordered=False, text=False):
    """Runs kvlab-synth; returns its records (ids + answer_spans, and with
    text the rendered text + answer_chars too). ordered: targets asked front
    to back (curriculum; the evaluator shuffles)."""
    ctx = max(ctx, MIN_CTX.get(task, 0))
    cmd = [binary, f"--tokenizer={tok_dir}", f"--task={task}", f"--seed={seed}", f"--start_index={start}",
           f"--count={count}", f"--context_tokens={ctx}", f"--mode={mode}", f"--turns={turns}",
           f"--ordered_questions={str(ordered).lower()}", f"--text={str(text).lower()}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def copy_records(rng, count, ctx, vocab, first_id=6, length=None, alphabets=(None,)):
    """Warm-up task "copy" (pure Python, no prompt format): BOS, a random token
    string x of 8..ctx/2 tokens, then x again; the loss is on the repeat after
    its first token. Every target is an induction step, which is what retrieval
    in the real tasks needs first. Tokens are drawn from the whole vocabulary
    (alphabet None) or, per record, from a random alphabet of one of the given
    sizes. The length varies per record: with a fixed length (r8 and earlier
    used ctx/2) a head attending a fixed distance back solves the task, and the
    model learned exactly that instead of matching content (copy token accuracy
    0.999 at the trained length, 0.03 at any other). `length` fixes it (for
    probe_copy.py)."""
    out = []
    for _ in range(count):
        n = length or rng.randint(8, max(8, ctx // 2))
        size = rng.choice(alphabets)
        alphabet = rng.sample(range(first_id, vocab), size) if size else range(first_id, vocab)
        x = [rng.choice(alphabet) for _ in range(n)]
        out.append({"ids": [1] + x + x, "answer_spans": [[2 + n, 1 + 2 * n]], "mode": "copy", "turn": -1})
    return out


def multi_copy_records(rng, count, ctx, vocab, first_id=6):
    """Task "mcopy": copy over small alphabets (8, 16 or 32 tokens), where one
    token no longer says where the copy is, so the model must match several
    preceding tokens — as in UUIDs, whose BPE pieces are mostly single hex
    characters. Learn "copy" (whole vocabulary) first: r11 mixed small
    alphabets in from the start, and no induction formed in 3400 steps, while
    whole-vocabulary copy alone formed it in 300-500."""
    return copy_records(rng, count, ctx, vocab, first_id, alphabets=(8, 16, 32))


def recall_records(rng, count, ctx, vocab, first_id=6):
    """Warm-up task "recall" (associative recall across a template gap): BOS,
    pairs "k : v1 v2 v3 ," then 5 queries "k <|eot_id|><|start_header_id|>
    <|end_header_id|>" answered by "v1 v2 v3 <|eot_id|>". As in kv and passkey,
    the answer does not follow its key, so the model must carry the key across
    the gap. Graded difficulty inside every batch: keys of 1 or 2 tokens, and a
    pair count drawn from 5 up to what fits in ctx, so easy records give a
    learning signal from the first step and hard ones keep it going."""
    out = []
    colon, comma = first_id, first_id + 1
    for _ in range(count):
        # Disjoint key and value alphabets: a key token never occurs inside a
        # value, so the only match for the query is the key itself.
        tokens = rng.sample(range(first_id + 2, vocab), 128)
        key_alphabet, value_alphabet = tokens[:64], tokens[64:]
        key_len = rng.choice((1, 2))
        n = rng.randint(5, max(5, min(ctx // (key_len + 5), 48 if key_len == 1 else 400)))
        keys = set()
        while len(keys) < n:
            keys.add(tuple(rng.choice(key_alphabet) for _ in range(key_len)))
        keys = sorted(keys, key=lambda k: rng.random())
        vals = [[rng.choice(value_alphabet) for _ in range(3)] for _ in keys]
        ids = [1]
        for k, v in zip(keys, vals):
            ids += list(k) + [colon] + v + [comma]
        spans = []
        for q in rng.sample(range(n), 5):
            ids += list(keys[q]) + [5, 3, 4]
            spans.append([len(ids), len(ids) + 4])
            ids += vals[q] + [5]
        out.append({"ids": ids, "answer_spans": spans, "mode": "recall", "turn": -1})
    return out


# The chat-template tokens between a question and its answer in the tiny
# tokenizer: <|eot_id|> <|start_header_id|> assistant <|end_header_id|> "\n\n".
ANSWER_GAP = (5, 3, 333, 4, 278)


def recall_layout(rng, ctx, vocab, first_id, pair_tokens):
    """One record's draw for grecall / rrecall: disjoint key and value
    alphabets of 64 tokens, 2 context-gap tokens, the context gap c = 0..2,
    the answer-gap prefix q = 0..5, and a pair count that fits in ctx (a pair
    and its question take about c + q + pair_tokens tokens)."""
    tokens = rng.sample([t for t in range(first_id, vocab) if t not in ANSWER_GAP], 130)
    gc, gq = rng.randint(0, 2), rng.randint(0, len(ANSWER_GAP))
    n = rng.randint(4, max(4, min(40, ctx // (gc + gq + pair_tokens))))
    return tokens[:64], tokens[64:128], tokens[128:130], gc, gq, n


def gap_recall_records(rng, count, ctx, vocab, first_id=6):
    """Task "grecall" (associative recall, graded gaps, dense): BOS, pairs
    "k g1..gc v ," (a context gap of c = 0..2 fixed tokens between key and
    value, as "red door is 94097"), then every key asked once in random order
    as "k" + the first q = 0..5 tokens of the chat template's answer gap + "v
    <|eot_id|>". With q = 0 it is plain induction, which the copy task already
    teaches; each larger gap asks the model to carry the key one token further,
    up to the real template. One key alphabet of 64 tokens (a key is "the most
    recent token of this kind"), a disjoint value alphabet, 1-token keys."""
    out = []
    for _ in range(count):
        key_alphabet, value_alphabet, context_gap, gc, gq, n = recall_layout(rng, ctx, vocab, first_id, 6)
        keys = rng.sample(key_alphabet, n)
        vals = [rng.choice(value_alphabet) for _ in keys]
        ids = [1]
        for k, v in zip(keys, vals):
            ids += [k] + context_gap[:gc] + [v, first_id]
        spans = []
        for q in rng.sample(range(n), n):
            ids += [keys[q]] + list(ANSWER_GAP[:gq])
            spans.append([len(ids), len(ids) + 2])
            ids += [vals[q], 5]
        out.append({"ids": ids, "answer_spans": spans, "mode": "grecall", "turn": -1})
    return out


def distinct_strings(rng, alphabet, n):
    """n distinct token tuples of 1 or 2 tokens (the length drawn per record)."""
    length, out = rng.choice((1, 2)), set()
    while len(out) < n:
        out.add(tuple(rng.choice(alphabet) for _ in range(length)))
    return sorted(out, key=lambda _: rng.random())


def reverse_recall_records(rng, count, ctx, vocab, first_id=6):
    """Task "rrecall": grecall asked the other way round. Pairs "k g1..gc v ,"
    (c = 0..2), then every value asked once as "v" + the first q = 0..5 tokens
    of the answer gap, answered by "k <|eot_id|>". It is vt's first hop: "VAR
    RFPNG = 54622." asked "which variables are assigned 54622" names what comes
    before the value, which induction (copying what follows a match) does not
    give. Keys and values of 1 or 2 tokens from disjoint alphabets."""
    out = []
    for _ in range(count):
        key_alphabet, value_alphabet, context_gap, gc, gq, n = recall_layout(rng, ctx, vocab, first_id, 8)
        keys, vals = distinct_strings(rng, key_alphabet, n), distinct_strings(rng, value_alphabet, n)
        ids = [1]
        for k, v in zip(keys, vals):
            ids += list(k) + context_gap[:gc] + list(v) + [first_id]
        spans = []
        for q in rng.sample(range(n), n):
            ids += list(vals[q]) + list(ANSWER_GAP[:gq])
            spans.append([len(ids), len(ids) + len(keys[q]) + 1])
            ids += list(keys[q]) + [5]
        out.append({"ids": ids, "answer_spans": spans, "mode": "rrecall", "turn": -1})
    return out


def pick_records(records, rng, mr_frac):
    """Per sample: its multi-turn record, or (with probability mr_frac) one
    multi-request record of a random turn."""
    by_index = {}
    for r in records:
        by_index.setdefault(r["index"], []).append(r)
    out = []
    for idx in sorted(by_index):
        rs = by_index[idx]
        mt = [r for r in rs if r["mode"] == "multi_turn"]
        mr = [r for r in rs if r["mode"] == "multi_request"]
        out.append(rng.choice(mr) if mr and rng.random() < mr_frac else mt[0])
    return out


class Stream:
    """Batches for steps [c*K, (c+1)*K) come from chunk c, generated with
    sample indices unique to the chunk; so batch(step) depends only on
    (seed, step, schedule) and resuming reproduces the same data."""

    def __init__(self, binary, tok_dir, tasks, weights, seed, schedule, tokens_per_batch, mr_frac,
                 chunk_steps=50, review=DEFAULT_REVIEW, turns=5, ordered=False):
        self.binary, self.tok_dir, self.tasks, self.weights = binary, tok_dir, tasks, weights
        self.seed, self.schedule, self.tpb, self.mr_frac = seed, schedule, tokens_per_batch, mr_frac
        self.K, self.review, self.turns, self.ordered = chunk_steps, review, turns, ordered
        self.chunk, self.batches = None, None
        self.vocab = 1024  # set by the trainer; used by the copy task
        self.openers = frozenset()  # set by the trainer: collate's openers

    def ctx_at(self, step):
        ctx = self.schedule[0][1]
        for s, c in self.schedule:
            if step >= s:
                ctx = c
        return ctx

    def _make_chunk(self, c):
        rng = random.Random(self.seed * 1000003 + c)
        ctx = self.ctx_at(c * self.K)
        earlier = [x for _, x in self.schedule if x < ctx]
        if earlier and rng.random() < self.review:
            ctx = rng.choice(earlier)
        bs = max(1, self.tpb // (ctx + 200))
        slots = rng.choices(self.tasks, weights=self.weights, k=self.K * bs)
        need = {t: slots.count(t) for t in self.tasks}
        pool = {}
        for t, n in need.items():
            if n and t in SYNTHETIC:
                pool[t] = SYNTHETIC[t](rng, n, ctx, self.vocab)
            elif n:
                recs = synth(self.binary, self.tok_dir, t, self.seed, c * self.K * bs, n, ctx, turns=self.turns,
                             ordered=self.ordered)
                pool[t] = pick_records(recs, rng, self.mr_frac)
        # Batches of similar lengths: a batch is padded to its longest record, and
        # at context 288 a 5-turn kv session is ~740 tokens and a copy record ~150,
        # so mixed batches were mostly padding. The chunk's records are sorted by
        # length, cut into K batches of bs, and the batches shuffled.
        records = sorted((pool[t].pop() for t in slots), key=lambda r: len(r["ids"]))
        batches = [records[s * bs:(s + 1) * bs] for s in range(self.K)]
        rng.shuffle(batches)
        return ctx, batches

    def batch(self, step):
        c = step // self.K
        if self.chunk != c:
            self.chunk = c
            self.ctx, self.batches = self._make_chunk(c)
        return self.ctx, collate(self.batches[step % self.K], openers=self.openers)


def collate(records, lm=False, openers=frozenset()):
    """-> ids [B, T], targets [B, T], masks [B, T]: answer tokens, first
    answer tokens (the ones only a lookup in the context can predict; with
    `openers`, also every answer token that follows one of those ids, as each
    name after "['" or ", '" in vt's list answers), real (not padding)."""
    T = max(len(r["ids"]) for r in records)
    ids = torch.zeros(len(records), T, dtype=torch.long)
    ans = torch.zeros(len(records), T, dtype=torch.bool)
    first = torch.zeros(len(records), T, dtype=torch.bool)
    real = torch.zeros(len(records), T, dtype=torch.bool)
    for i, r in enumerate(records):
        ids[i, :len(r["ids"])] = torch.tensor(r["ids"])
        real[i, :len(r["ids"])] = True
        for b, e in r["answer_spans"]:
            ans[i, b:e] = True
            first[i, b] = True
            for p in range(b + 1, e):
                if r["ids"][p - 1] in openers:
                    first[i, p] = True
    # position t predicts token t+1
    return {"ids": ids[:, :-1], "targets": ids[:, 1:], "answer": ans[:, 1:], "first": first[:, 1:],
            "real": real[:, 1:]}


# Python-only warm-up tasks (no prompt format).
SYNTHETIC = {"copy": copy_records, "mcopy": multi_copy_records, "recall": recall_records, "grecall": gap_recall_records,
             "rrecall": reverse_recall_records}


def eval_set(binary, tok_dir, tasks, seed, count, ctx, vocab=1024):
    """Fixed multi-turn sessions (sample indices from 10^6 on, unseen in training)."""
    return {t: (SYNTHETIC[t](random.Random(seed), count, ctx, vocab) if t in SYNTHETIC else
                synth(binary, tok_dir, t, seed, 1000000, count, ctx, "multi_turn")) for t in tasks}


@torch.no_grad()
def exact_match(model, records, device, batch=4):
    """Fraction of answers whose every token (answer + end-of-turn) is the
    argmax under teacher forcing == greedy decoding reproduces the gold answer."""
    good = total = tok_good = tok_total = 0
    for i in range(0, len(records), batch):
        rs = records[i:i + batch]
        b = collate(rs)
        pred = model(b["ids"].to(device)).argmax(-1).cpu()
        for j, r in enumerate(rs):
            for k, (s, e) in enumerate(r["answer_spans"]):
                hit = pred[j, s - 1:e - 1] == b["targets"][j, s - 1:e - 1]
                good += bool(hit.all())
                total += 1
                tok_good += int(hit.sum())
                tok_total += e - s
    return good / max(total, 1), tok_good / max(tok_total, 1)
