"""Copy token accuracy of a model at several copy lengths (the check behind the
README's diagnosis): a model with real induction copies at any length; one that
learned a fixed-offset head copies only at the length it was trained on.

  /usr/bin/python3 tools/train_tiny/probe_copy.py --model models/kvlab-tiny-v1
  /usr/bin/python3 tools/train_tiny/probe_copy.py --run /work/train-runs/r11
"""
import argparse
import random

import torch

import data
import model as M


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="exported model directory")
    src.add_argument("--run", help="training run directory (its ckpt.pt)")
    ap.add_argument("--lengths", default="144,100,60,30")
    ap.add_argument("--count", type=int, default=6, help="records per length")
    a = ap.parse_args()
    torch.set_num_threads(1)
    net = M.load_exported(a.model) if a.model else M.load_checkpoint(a.run)[0]
    net.eval()
    for n in (int(x) for x in a.lengths.split(",")):
        records = data.copy_records(random.Random(n), a.count, 2 * n, net.c["vocab_size"], length=n)
        print(f"copy length {n}: token accuracy {data.exact_match(net, records, 'cpu')[1]:.3f}")


if __name__ == "__main__":
    main()
