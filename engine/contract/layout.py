"""What a run folder is, in one place: the files it holds, how to make a new one, how to tell a
run folder, a folder of seed runs and a sweep apart, and how to read a run's status. Standard
library only: the engine writes with it, the UI and the tools read with it. Every file read
here is untrusted: a damaged one reads as absent, never as an exception.

    runs/<recipe>/<stamp>-<seed>/       a run folder (`<stamp>-<seed>-<n>` where that is taken)
        recipe.toml   the resolved recipe          splits.json    dataset indices per split
        events.jsonl  the event stream             engine.log     the engine's log
        summary.json  status, best, test metrics   predictions.npz  test-split probabilities
        checkpoints/last.pt, best.pt               events.out.tfevents.*  TensorBoard, in the run
        run-id        the run's id (below)         folder itself (`tensorboard_dir`)
    <sweep>/sweep.json, base-recipe.toml, [<grid point>/]seed-<s>/   a sweep or a seed series:
        runs/<recipe>/sweep-<stamp>/ or seeds-<stamp>/ (`-<n>` where that is taken); a grid
        point's folder is its values, cut short, and a hash of them (lfm_tui/sweep.py)

The run id is the one thing that tells runs apart, wherever their folders are: a random
uuid4 hex written into `run-id` when the engine creates the run folder, and never changed (a
resumed run keeps it). A copied folder holds the same run (`lfm compare` counts it once); a
folder made before run ids existed has none (`read_run_id` gives None).

Writes are whole or nothing and never go through a symbolic link (engine/contract/writes.py), and a
folder is locked while a process writes to it (engine/contract/folder_lock.py); callers import those
from there.
"""
from __future__ import annotations

import contextlib
import re
import time
import uuid
from pathlib import Path

from engine.contract import untrusted
from engine.contract.folder_lock import LOCK, LOCK_OWNER, FolderLock
from engine.contract.writes import write_atomic

RECIPE = "recipe.toml"
SPLITS = "splits.json"
EVENTS = "events.jsonl"
LOG = "engine.log"
SUMMARY = "summary.json"
PREDICTIONS = "predictions.npz"
CHECKPOINTS = "checkpoints"
LAST, BEST = "last.pt", "best.pt"
SWEEP_PLAN = "sweep.json"
SWEEP_RECIPE = "base-recipe.toml"
RUN_ID = "run-id"
NAME_MAX = 80  # characters of a recipe name, which names folders (engine/contract/validation.py)


def checkpoint(run_dir: Path, name: str = LAST) -> Path:
    return Path(run_dir) / CHECKPOINTS / name


def tensorboard_dir(run_dir: Path) -> Path:
    """The folder every TensorBoard writer of a run writes into: the run folder itself, so that
    `tensorboard --logdir runs/` names the run `<recipe>/<stamp>-<seed>` (TensorBoard names a run
    after the folder holding its event files; runs made before this keep theirs in `tb/`)."""
    return Path(run_dir)


def new_folder(path: Path) -> Path:
    """`path` made now, new and empty, or `path-1`, `path-2`, ... where that exists already (a
    second command started in the same second): two callers never get the same folder."""
    path = Path(path)
    for n in range(1000):
        candidate = path if n == 0 else path.with_name(f"{path.name}-{n}")
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"{path}: could not create a new folder beside the 1000 that exist")


def stamped_name(prefix: str) -> str:
    """`<prefix>-<stamp>`, the local time to the second: how sweep and seed folders are named."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def new_run_dir(runs_dir: Path, name: str, seed: int) -> Path:
    """A new, empty `runs_dir/<name>/<stamp>-<seed>` (a suffix where that exists already)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"{name!r} cannot name a folder inside {runs_dir}")
    return new_folder(Path(runs_dir) / name / f"{stamp}-{seed}")


def new_run_id() -> str:
    return uuid.uuid4().hex


def read_run_id(run_dir: Path) -> str | None:
    """The run's id from its `run-id` file, or None where it has none (a run made before run
    ids existed) or one that is not a run id (32 hex digits)."""
    try:
        with open(Path(run_dir) / RUN_ID, "rb") as fh:
            text = fh.read(64).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if re.fullmatch(r"[0-9a-f]{32}", text) else None


def create_run_folder(path: Path | None, runs_dir: Path, name: str, seed: int,
                      files: dict[str, str]) -> tuple[Path, FolderLock]:
    """A new run folder, locked, holding `files` (name -> text) and a new run id (`RUN_ID`):
    `path` (new or empty) or a new folder under `runs_dir/<name>`. If a file cannot be written
    (a full disk), the folder is left as it was found (removed if it was made here) and the
    error raised."""
    made = path is None or not Path(path).exists()
    if path is None:
        path = new_run_dir(runs_dir, name, seed)
    path = Path(path)
    files = {**files, RUN_ID: new_run_id() + "\n"}
    path.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(path).acquire()
    try:
        for fname, text in files.items():
            write_atomic(path / fname, text)
    except BaseException:
        lock.release()
        for f in [*files, LOCK, LOCK_OWNER]:
            with contextlib.suppress(OSError):
                (path / f).unlink()
        if made:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    return path, lock


def is_run(path: Path) -> bool:
    """A run folder: the engine wrote its recipe and its event stream there."""
    p = Path(path)
    return (p / RECIPE).is_file() and (p / EVENTS).is_file()


def is_sweep(path: Path) -> bool:
    return (Path(path) / SWEEP_PLAN).is_file()


def read_summary(run_dir: Path) -> dict | None:
    """summary.json as a dict, or None where it is absent or unreadable (over a limit of
    engine/contract/untrusted.py, NaN or Infinity included)."""
    try:
        data = untrusted.read_json(Path(run_dir) / SUMMARY)
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


def remove_temporaries(folder: Path) -> list[Path]:
    """Temporary files (engine/contract/writes.py `temporary`) a killed writer left in a run folder and its
    checkpoints; the removed."""
    removed = []
    for d in (Path(folder), Path(folder) / CHECKPOINTS):
        for p in d.glob(".*.tmp") if d.is_dir() else ():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed
