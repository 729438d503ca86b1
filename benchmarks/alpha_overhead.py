"""Epoch wall time of the learned alpha, per hypergradient mode, against the heuristic strategy
on the same recipe and seed, measured in one run and printed as ratios.

    python benchmarks/alpha_overhead.py                      # emoji, 6 epochs, 2 rounds
    python benchmarks/alpha_overhead.py --recipe recipes/mfeat.toml --epochs 8 --rounds 3

An epoch's time is the interval between consecutive validation `eval` events of the engine's
stream: the inner loop, validation and the alpha update. Epoch 1 is left out (warm-up); the
median over the remaining epochs of all rounds is reported. Every run uses one thread.
Configurations run interleaved, round by round, so that a noisy neighbour hits them alike.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LEARNED = ["alpha.strategy=learned"]
CONFIGS = {
    "heuristic": ["alpha.strategy=heuristic"],
    "learned default (cg)": LEARNED,
    "old default (cg, Adam 0.1)": LEARNED + ["alpha.optimizer=adam", "alpha.lr=0.1", "alpha.horizon=0",
                                             "alpha.space=linear", "alpha.estimates=2", "alpha.val_batches=1",
                                             "alpha.terms=20", "alpha.batch_size=0"],
    "default, cheap estimates": LEARNED + ["alpha.batch_size=64", "alpha.terms=10"],
    "cg, 1 estimate": LEARNED + ["alpha.estimates=1", "alpha.optimizer=adam"],
    "neumann (200 terms)": LEARNED + ["alpha.hypergradient=neumann"],
    "identity": LEARNED + ["alpha.hypergradient=identity"],
    "cg, all params": LEARNED + ["alpha.params=all"],
    "cg, fwd-over-rev": LEARNED + ["alpha.hvp=forward_over_reverse"],
    "official": LEARNED + ["alpha.hypergradient=official", "alpha.optimizer=sgd", "alpha.params=all",
                           "alpha.initial=0.95", "alpha.lr=1e-4", "alpha.clip=[0.05,0.95]", "alpha.batch_size=8"],
}


def epoch_times(recipe: str, overrides: list[str], epochs: int, runs_dir: str) -> tuple[list[float], list[float]]:
    cmd = [sys.executable, "-m", "engine", recipe, f"train.epochs={epochs}", "train.seed=0",
           "train.log_every=1000", "train.threads=1", *overrides, "--runs-dir", runs_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    evs = [json.loads(l) for l in out.splitlines()]
    marks = [e["time"] for e in evs if e["type"] == "eval" and e["split"] == "val"]
    hyper = [e["seconds"] for e in evs if e["type"] == "alpha_updated"]
    return [b - a for a, b in zip(marks, marks[1:])], hyper


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(ROOT / "recipes" / "emoji.toml"))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--only", nargs="*", help="configuration names to run (heuristic always runs)")
    args = p.parse_args()
    configs = {k: v for k, v in CONFIGS.items() if not args.only or k == "heuristic" or k in args.only}
    times: dict[str, list[float]] = {k: [] for k in configs}
    hyper: dict[str, list[float]] = {k: [] for k in configs}
    with tempfile.TemporaryDirectory() as runs:
        for r in range(args.rounds):
            for name, overrides in configs.items():
                t, h = epoch_times(args.recipe, overrides, args.epochs, runs)
                times[name] += t
                hyper[name] += h
                print(f"round {r + 1}: {name:28s} epochs {' '.join(f'{x:.2f}' for x in t)} s", flush=True)
    base = statistics.median(times["heuristic"])
    print(f"\n{Path(args.recipe).name}, {args.epochs} epochs x {args.rounds} rounds, median epoch time "
          f"(epoch 1 excluded)")
    print(f"{'configuration':28s} {'epoch s':>8s} {'ratio':>7s} {'hypergrad s':>12s}")
    for name in configs:
        med = statistics.median(times[name])
        hg = f"{statistics.median(hyper[name]):.3f}" if hyper[name] else "-"
        print(f"{name:28s} {med:8.3f} {med / base:7.3f} {hg:>12s}")


if __name__ == "__main__":
    main()
