"""Checkpoints: one self-describing dict, written atomically, loaded with weights_only=True.

`last.pt` and `best.pt` are written one after the other at the end of an epoch whose
validation improved, both from the same state. `reconcile` makes the pair agree again after a
process died between the two writes (last.pt then holds the best epoch's state: best.pt is
rebuilt from it), so a resumed run tests the weights its summary names.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import torch

from engine.contract import layout, untrusted, writes
from engine.contract.errors import UserError

FORMAT = 1
# torch.save stores its members uncompressed, so a checkpoint's members add up to about its own
# size; more than this beyond it is a file that would inflate in memory (a zip bomb)
INFLATE_SLACK = 1024 ** 2


def save(state: dict, path: Path) -> None:
    """`path`: a run folder's checkpoints/<name> (layout.checkpoint); a link there is refused."""
    writes.make_folders(path.parent, path.parent.parent)
    with writes.atomic_open(path) as fh:
        try:
            torch.save({"format": FORMAT, **state}, fh)
        except RuntimeError as exc:  # torch's writer hides a failed write (a full disk) behind its own error
            # (or a stop: SIGTERM's Terminated raised mid-write, which the writer's close then hides)
            cause = exc.__context__
            while cause is not None and isinstance(cause, Exception) and not isinstance(cause, OSError):
                cause = cause.__context__
            if cause is None:
                raise
            if not isinstance(cause, Exception):
                raise cause from None
            raise OSError(cause.errno, cause.strerror, str(path)) from exc


def load(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint there")
    try:
        declared, size = untrusted.zip_size(path), path.stat().st_size
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: the checkpoint does not load ({exc})") from None
    if declared > size + INFLATE_SLACK:
        raise UserError(f"{path}: the checkpoint declares {declared} bytes uncompressed in a file of {size}; "
                        f"a checkpoint holds its tensors uncompressed, so it is refused before loading")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated, foreign or unsafe file: the user's to fix
        # torch's own message may suggest weights_only=False, which would run code from the file
        why = ("it holds objects other than tensors and plain data, which are never loaded"
               if "weights_only" in str(exc) or "Unsupported global" in str(exc)
               else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}")
        raise UserError(f"{path}: the checkpoint does not load ({why})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: not a checkpoint of this project (format {FORMAT} expected)")
    return state


def _count(state: dict, key: str) -> int | None:
    v = state.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def counters_problem(state: dict, epochs: int) -> str | None:
    """What is wrong with a checkpoint's progress counters for a recipe of `epochs` epochs, or
    None: the epoch to continue from is 1 .. epochs + 1, the best epoch before it, the step
    counts and the loss sums non-negative. Absent keys are left to the trainer, which names
    every key a checkpoint lacks."""
    epoch, best = _count(state, "epoch"), _count(state, "best_epoch")
    if "epoch" in state and (epoch is None or not 1 <= epoch <= epochs + 1):
        return f"epoch is {state.get('epoch')!r}, not an epoch of this run's 1 .. {epochs + 1}"
    if "best_epoch" in state and (best is None or not 0 <= best < (epoch or epochs + 1)):
        return f"best_epoch is {state.get('best_epoch')!r}, not an epoch before {epoch or epochs + 1}"
    for key in ("step_in_epoch", "global_step"):
        n = _count(state, key)
        if key in state and (n is None or n < 0):
            return f"{key} is {state.get(key)!r}, not a count of steps"
    if "sums" in state and not _loss_sums(state["sums"]):
        return "sums are not the finite loss sums of an epoch"
    return None


def _loss_sums(sums) -> bool:
    keys = ("total", "cls", "mm", "n")
    return (isinstance(sums, dict) and all(isinstance(sums.get(k), (int, float)) and not isinstance(sums.get(k), bool)
                                           and math.isfinite(sums[k]) for k in keys) and sums["n"] >= 0)


def copy(src: Path, dst: Path) -> None:
    """`dst` becomes a copy of `src`, atomically."""
    with open(src, "rb") as fin, writes.atomic_open(dst) as fout:
        shutil.copyfileobj(fin, fout)


def reconcile(run_dir: Path, last: dict) -> str | None:
    """Make best.pt agree with last.pt (`last`, loaded): the best epoch last.pt names must be
    the one best.pt holds. A process that died after writing last.pt of an improved epoch and
    before best.pt leaves last.pt at that very epoch's end: best.pt is rebuilt from it. Returns
    what was repaired, or None; raises UserError for a pair no write order can produce."""
    best_epoch = last.get("best_epoch")
    if not isinstance(best_epoch, int) or best_epoch < 1:
        return None  # no epoch finished yet: no best checkpoint to agree with
    best_path = layout.checkpoint(run_dir, layout.BEST)
    held = None
    if best_path.is_file():
        try:
            held = load(best_path).get("best_epoch")
        except UserError:
            held = None  # damaged: rebuilt below if last.pt can stand in for it
    if held == best_epoch:
        return None
    at_best = last.get("epoch") == best_epoch + 1 and last.get("step_in_epoch") == 0
    if not at_best:
        raise UserError(f"{best_path} holds epoch {held} but {layout.LAST} names epoch {best_epoch} as best, and "
                        f"{layout.LAST} cannot stand in for it: the two checkpoints do not belong together")
    copy(layout.checkpoint(run_dir, layout.LAST), best_path)
    return (f"{layout.BEST} rebuilt from {layout.LAST} (epoch {best_epoch}): the process had stopped "
            f"between the two writes")


def recipe_changes(now: dict, state: dict) -> list[str]:
    """`key is X in recipe.toml, Y in the checkpoint` for each key whose value differs from the
    recipe the checkpoint was trained with (keys only one side knows are left out: a schema
    may have gained keys since)."""
    saved = state.get("recipe")
    if not isinstance(saved, dict):
        return []

    def flat(d: dict, prefix: str = "") -> dict:
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    a, b = flat(now), flat(saved)
    return [f"{k} is {a[k]!r} in {layout.RECIPE}, {b[k]!r} in the checkpoint" for k in a if k in b and a[k] != b[k]]
