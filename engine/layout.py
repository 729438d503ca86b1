"""What a run folder is, in one place: the files it holds, how to make a new one, how to tell a
run folder, a folder of seed runs and a sweep apart, and how to read a run's status. Standard
library only: the engine writes with it, the UI and the tools read with it. Every file read
here is untrusted: a damaged one reads as absent, never as an exception.

    runs/<recipe>/<stamp>-<seed>/       a run folder
        recipe.toml   the resolved recipe          splits.json    dataset indices per split
        events.jsonl  the event stream             engine.log     the engine's log
        summary.json  status, best, test metrics   predictions.npz  test-split probabilities
        tb/           TensorBoard                  checkpoints/last.pt, best.pt
    <sweep>/sweep.json, base-recipe.toml, [<grid point>/]seed-<s>/   a sweep or a seed series
"""
from __future__ import annotations

import json
import time
from pathlib import Path

RECIPE = "recipe.toml"
SPLITS = "splits.json"
EVENTS = "events.jsonl"
LOG = "engine.log"
SUMMARY = "summary.json"
PREDICTIONS = "predictions.npz"
TENSORBOARD = "tb"
CHECKPOINTS = "checkpoints"
LAST, BEST = "last.pt", "best.pt"
SWEEP_PLAN = "sweep.json"
SWEEP_RECIPE = "base-recipe.toml"


def checkpoint(run_dir: Path, name: str = LAST) -> Path:
    return Path(run_dir) / CHECKPOINTS / name


def new_run_dir(runs_dir: Path, name: str, seed: int) -> Path:
    """A new, empty `runs_dir/<name>/<stamp>-<seed>` (a suffix where that exists already)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir) / name
    for n in range(1000):
        path = base / (f"{stamp}-{seed}" if n == 0 else f"{stamp}-{seed}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{base}: could not create a new run folder")


def is_run(path: Path) -> bool:
    """A run folder: the engine wrote its recipe and its event stream there."""
    p = Path(path)
    return (p / RECIPE).is_file() and (p / EVENTS).is_file()


def is_sweep(path: Path) -> bool:
    return (Path(path) / SWEEP_PLAN).is_file()


def kind(path: Path) -> str | None:
    """'run', 'sweep' (a sweep or a seed series: its plan), 'runs' (a folder holding run
    folders below it) or None."""
    p = Path(path)
    if not p.is_dir():
        return None
    if is_run(p):
        return "run"
    if is_sweep(p):
        return "sweep"
    return "runs" if any(is_run(e.parent) for e in p.rglob(EVENTS)) else None


def read_summary(run_dir: Path) -> dict | None:
    """summary.json as a dict, or None where it is absent or unreadable."""
    try:
        data = json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def status(run_dir: Path) -> str | None:
    """The status the engine reported ('ok', 'cancelled', 'failed'), or None before it did."""
    s = read_summary(run_dir)
    value = s.get("status") if s else None
    return value if isinstance(value, str) else None


def finished(run_dir: Path) -> bool:
    return status(run_dir) == "ok"


def resumable(run_dir: Path) -> bool:
    """A run that has not finished and has a checkpoint to continue from."""
    p = Path(run_dir)
    return not finished(p) and checkpoint(p).is_file()


def run_state(run_dir: Path) -> str:
    """'done', 'resume' (a checkpoint and its recipe to continue from), 'partial' (nothing to
    continue) or 'new'."""
    p = Path(run_dir)
    if finished(p):
        return "done"
    if resumable(p) and (p / RECIPE).is_file():
        return "resume"
    return "partial" if p.exists() else "new"


def runs_below(folder: Path) -> list[Path]:
    """Every run folder at or below `folder`, sorted."""
    p = Path(folder)
    if is_run(p):
        return [p]
    return sorted({e.parent for e in p.rglob(EVENTS) if is_run(e.parent)})


def finished_runs_by_seed(folder: Path) -> dict[int, list[Path]]:
    """seed -> the finished runs below `folder` of that seed (from their summary.json)."""
    out: dict[int, list[Path]] = {}
    for run in runs_below(folder):
        s = read_summary(run)
        if s and s.get("status") == "ok" and isinstance(s.get("seed"), int) and not isinstance(s["seed"], bool):
            out.setdefault(s["seed"], []).append(run)
    return out
