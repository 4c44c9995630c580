"""Chance levels for the synthetic tasks: the expected score of a guesser that
already knows the answer's form and picks uniformly among the candidates of
that form in the context (a value of the JSON object, a pass key, a line of the
list, a number of the array, four variable names). A model that has learned
nothing about the task scores 0; one that only learned the format scores this.

  /usr/bin/python3 tools/train_tiny/guess_baseline.py --tokenizer models/kvlab-tiny-v1 --ctx 1024

Reads the prompts from kvlab-synth (the evaluator's generators and prompt
assembly), so the candidate counts are those of an evaluation at that length.
"""
import argparse
import json
import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def kv_candidates(prompt):
    return set(re.findall(r'": "([0-9a-f-]{36})"', prompt))


def passkey_candidates(prompt):
    return set(re.findall(r"is (\d+)\. Remember", prompt))


def prefix_suffix_candidates(prompt):
    return {line for line in prompt.split("\n") if re.fullmatch(r"[A-Za-z0-9]{8,}", line)}


def mf_candidates(prompt):
    array = re.search(r"\[([-\d, ]+)\]", prompt)
    return set(array.group(1).split(", ")) if array else set()


def vt_candidates(prompt):
    return set(re.findall(r"VAR ([A-Z]+) =", prompt))


# task -> (candidates in the prompt, answers a guess names)
TASKS = {
    "kv": (kv_candidates, 1),
    "passkey": (passkey_candidates, 1),
    "prefix_suffix": (prefix_suffix_candidates, 1),
    "mf": (mf_candidates, 1),
    "vt": (vt_candidates, 4),
}


def expected_score(candidates, picks):
    """A guess of `picks` distinct candidates: for exact match (picks == 1)
    the chance of the right one; for vt's share-of-gold-names score (gold has
    `picks` names) the expected share, picks / len(candidates)."""
    return min(1.0, picks / len(candidates))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True, help="model directory with tokenizer.json")
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--count", type=int, default=20, help="sessions per task")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--synth", default=os.path.join(REPO, "build", "tools", "kvlab-synth"))
    a = ap.parse_args()
    for task, (candidates_of, picks) in TASKS.items():
        out = subprocess.run([a.synth, f"--tokenizer={a.tokenizer}", f"--task={task}", f"--seed={a.seed}",
                              f"--count={a.count}", f"--context_tokens={a.ctx}", "--mode=multi_request"],
                             check=True, capture_output=True, text=True).stdout
        scores, sizes = [], []
        for line in out.splitlines():
            prompt = json.loads(line)["text"].split("<|start_header_id|>assistant")[0]
            candidates = candidates_of(prompt)
            if not candidates:
                raise SystemExit(f"{task}: no candidates found in a prompt; the generator's format changed")
            sizes.append(len(candidates))
            scores.append(expected_score(candidates, picks))
        print(f"{task:14s} chance {100 * sum(scores) / len(scores):5.1f}%  "
              f"({sum(sizes) / len(sizes):.0f} candidates per prompt, {len(scores)} prompts)")


if __name__ == "__main__":
    main()
