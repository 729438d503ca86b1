"""How long the History screen takes to list a runs folder: the first time (every run folder
read: summary.json, recipe.toml, events.jsonl) and again with nothing changed (what a return to
the screen costs: only the files' sizes and times are looked at). Runs made from the recorded
mfeat run, half of them without summary.json (their events replayed). Prints both times and
their ratio.

    python benchmarks/history_listing.py [--runs 100] [--events 3000]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lfm_tui import run_index  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "mfeat" / "20261127-092227-0" / "events.jsonl"


def make_runs(root: Path, runs: int, events: int) -> None:
    lines = FIXTURE.read_text().splitlines()
    steps = [line for line in lines if json.loads(line)["type"] == "step"]
    body = [lines[0], *(steps * (events // len(steps) + 1))[:events], lines[-1]]
    for n in range(runs):
        folder = root / "mfeat" / f"20261127-{n:06d}-0"
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_text("\n".join(body) + "\n")
        if n % 2:
            (folder / "summary.json").write_text(json.dumps(
                {"status": "ok", "recipe_name": "mfeat", "best": {"acc": 90.0}, "test": {"acc": 91.0}}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--events", type=int, default=3000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_runs(Path(tmp), args.runs, args.events)
        recipes = ROOT / "tests" / "fixtures" / "recipes"
        t = time.perf_counter()
        first = run_index.scan(Path(tmp), recipes).runs
        cold = time.perf_counter() - t
        t = time.perf_counter()
        again = run_index.scan(Path(tmp), recipes).runs
        warm = time.perf_counter() - t
    assert len(first) == len(again) == args.runs
    print(f"{args.runs} runs of {args.events} events: first listing {cold:.3f} s, "
          f"again unchanged {warm:.3f} s, ratio {cold / max(warm, 1e-9):.0f}x")


if __name__ == "__main__":
    main()
