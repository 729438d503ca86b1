"""Wall time of one 12-run mfeat sweep (3 methods x 4 seeds) executed three ways, in one run:
one run after another (`lfm sweep`, each run with the machine's default threads), two at once
on this machine (`--jobs 2`: one thread each) and as Ray tasks on a Ray instance started on this
machine, two at a time (`--executor ray --jobs 2 --cpus-per-run 1`; the time includes starting
Ray). Prints the times, their ratios to the sequential sweep, and whether the three sweeps'
test metrics agree run by run.

    python benchmarks/sweep_parallel.py
    python benchmarks/sweep_parallel.py --epochs 30 --json out.json

Run it with nothing else busy on the machine: the ratios are what a sweep gains from running
runs side by side, so other work on the cores distorts them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]
MODES = {
    "sequential": [],
    "--jobs 2": ["--jobs", "2"],
    "ray, 2 workers": ["--executor", "ray", "--jobs", "2", "--cpus-per-run", "1"],
}


def run_sweep(out: Path, epochs: int, extra: list[str]) -> float:
    cmd = LFM + ["sweep", str(ROOT / "recipes" / "mfeat.toml"), f"train.epochs={epochs}",
                 "--grid", "method.name=concat,ogm_ge,lfm", "--seeds", "0-3", "--out", str(out), *extra]
    env = {**os.environ, "COLUMNS": "120", "TERM": "dumb"}
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited with {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return wall


def test_metrics(sweep: Path) -> dict[str, dict]:
    out = {}
    for summary in sorted(sweep.glob("*/seed-*/summary.json")):
        data = json.loads(summary.read_text())
        out[f"{summary.parent.parent.name}/{summary.parent.name}"] = data["test"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10, help="epochs of every run (the recipe has 30)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    walls, metrics = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, extra in MODES.items():
            folder = Path(tmp) / mode.replace(" ", "_").replace(",", "").replace("-", "")
            walls[mode] = run_sweep(folder, args.epochs, extra)
            metrics[mode] = test_metrics(folder)
            if len(metrics[mode]) != 12:
                raise SystemExit(f"{mode}: {len(metrics[mode])} finished runs, expected 12")
            print(f"{mode:16s} {walls[mode]:7.1f} s", flush=True)
    base = walls["sequential"]
    print(f"\n12-run mfeat sweep (3 methods x 4 seeds, {args.epochs} epochs), {os.cpu_count()} CPUs:")
    print(f"{'executor':16s} {'wall s':>8s} {'vs sequential':>14s}")
    for mode, wall in walls.items():
        print(f"{mode:16s} {wall:8.1f} {wall / base:13.2f}x")
    same = metrics["--jobs 2"] == metrics["ray, 2 workers"]
    same_seq = metrics["sequential"] == metrics["--jobs 2"]
    print(f"test metrics, run by run: --jobs 2 = ray {'identical' if same else 'DIFFER'}; "
          f"sequential (default threads) = --jobs 2 (1 thread each) {'identical' if same_seq else 'differ'}")
    if args.json:
        args.json.write_text(json.dumps({"epochs": args.epochs, "wall_s": walls,
                                         "ratio_to_sequential": {m: w / base for m, w in walls.items()},
                                         "jobs_equals_ray": same, "sequential_equals_jobs": same_seq}, indent=2))


if __name__ == "__main__":
    main()
