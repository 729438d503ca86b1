"""Training samples per second on the CPU for a recipe (default: emoji), one process of one
thread against two processes of one thread each under torchrun (DDP, gloo), in one run, as a
ratio. A global batch is split over the ranks, so both train on the same batches.

    python benchmarks/throughput.py
    python benchmarks/throughput.py --recipe recipes/mfeat.toml --epochs 6 --rounds 3

Samples per second: training samples of epochs 2 .. N (epoch 1 is warm-up) over the time from
the first to the last validation `eval` event, less the time spent evaluating (measured as the
gap between the last step event and the eval event of each epoch).
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


def samples_per_s(cmd: list[str]) -> float:
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited with {res.returncode}:\n{res.stderr[-4000:]}")
    out = res.stdout
    evs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    started = next(e for e in evs if e["type"] == "run_started")
    n_train = started["split_sizes"]["train"]
    evals = [e for e in evs if e["type"] == "eval" and e["split"] == "val"]
    train_time = 0.0
    for prev, cur in zip(evals, evals[1:]):
        steps = [e for e in evs if e["type"] == "step" and e["epoch"] == cur["epoch"]]
        train_time += steps[-1]["time"] - prev["time"]
    return n_train * (len(evals) - 1) / train_time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(ROOT / "recipes" / "emoji.toml"))
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    common = [args.recipe, f"train.epochs={args.epochs}", "train.threads=1", "train.log_every=1000"]
    results: dict[str, list[float]] = {"1 process x 1 thread": [], "2 processes x 1 thread": []}
    with tempfile.TemporaryDirectory() as runs:
        for r in range(args.rounds):
            one = samples_per_s([sys.executable, "-m", "engine", *common, "--runs-dir", runs])
            two = samples_per_s([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                 "--nproc-per-node=2", "-m", "engine", *common, "--runs-dir", runs])
            results["1 process x 1 thread"].append(one)
            results["2 processes x 1 thread"].append(two)
            print(f"round {r + 1}: 1 process {one:8.1f} samples/s   2 processes {two:8.1f} samples/s", flush=True)
    a = statistics.median(results["1 process x 1 thread"])
    b = statistics.median(results["2 processes x 1 thread"])
    print(f"\n{Path(args.recipe).name}: median training samples/s, 1 process {a:.1f}, 2 processes {b:.1f}, "
          f"ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
