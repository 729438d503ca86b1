"""Every run under a runs folder, for the history screen and `lfm runs`: single runs
(`<runs>/<recipe>/<stamp>-<seed>/`) and the runs of sweeps and seed series (below a folder
holding sweep.json, engine/contract/layout.py), each run's line read by lfm_tui/history.py, its
group the sweep or series it belongs to, its status `running` while a live process holds its
folder's lock (engine/contract/folder_lock.py).

The walk is bounded (limits.INDEX_MAX_DEPTH levels, limits.INDEX_MAX_FOLDERS folders, no link
followed, nothing below a run folder), and so are the runs read (limits.HISTORY_MAX_RUNS, the
newest by their folders' modification time). `matches` is the filter: every word of the query
must be found in a run's recipe, method, alpha strategy, status, tags, note, overrides, folder or
group, or, as `key=value`, be the value of a recipe key (the key's last part will do).
Standard library only."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import folder_lock, layout
from lfm_tui import limits
from lfm_tui.history import RunInfo, mark_overrides, read_run


@dataclass
class Group:
    """A sweep or a seed series: its folder, relative to the runs folder, and its runs."""
    name: str
    kind: str                     # "sweep" or "seeds"
    runs: list[RunInfo] = field(default_factory=list)


@dataclass
class RunIndex:
    """The runs listed (newest first), and how many run folders there are in all."""
    runs: list[RunInfo]
    found: int
    walk_cut: bool = False        # the walk stopped at a limit: some folders were not looked into

    @property
    def left_out(self) -> int:
        return self.found - len(self.runs)

    def items(self) -> list[RunInfo | Group]:
        """Single runs and groups, in the order of their first (newest) run."""
        out: list[RunInfo | Group] = []
        groups: dict[str, Group] = {}
        for r in self.runs:
            if not r.group:
                out.append(r)
                continue
            g = groups.get(r.group)
            if g is None:
                kind = "seeds" if Path(r.group).name.startswith("seeds-") else "sweep"
                g = groups[r.group] = Group(r.group, kind)
                out.append(g)
            g.runs.append(r)
        return out


def _mtime(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except OSError:
        return 0.0


def run_folders(runs_dir: Path) -> tuple[list[tuple[Path, str]], bool]:
    """(run folder, the sweep or series folder above it, relative to `runs_dir`, or "") of
    every run below `runs_dir`, and whether the walk stopped at a limit."""
    found: list[tuple[Path, str]] = []
    todo: list[tuple[Path, int, str]] = [(Path(runs_dir), 0, "")]
    seen = 0
    while todo:
        folder, depth, group = todo.pop()
        seen += 1
        if seen > limits.INDEX_MAX_FOLDERS:
            return found, True
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        names = {e.name for e in entries}
        if layout.EVENTS in names and folder != Path(runs_dir):
            found.append((folder, group))
            continue  # nothing below a run folder is a run
        if layout.SWEEP_PLAN in names and not group:
            group = str(folder.relative_to(runs_dir))
        if depth >= limits.INDEX_MAX_DEPTH:
            continue
        for e in entries:
            if e.name != layout.CHECKPOINTS and not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
                todo.append((Path(e.path), depth + 1, group))
    return found, False


def scan(runs_dir: Path, recipes_dir: Path | None = None, limit: int | None = None) -> RunIndex:
    """The `limit` (limits.HISTORY_MAX_RUNS) newest runs under `runs_dir`, newest first, their
    overrides against `recipes_dir`'s recipes."""
    limit = limits.HISTORY_MAX_RUNS if limit is None else limit
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return RunIndex([], 0)
    folders, cut = run_folders(runs_dir)
    newest = sorted(folders, key=lambda fg: _mtime(fg[0]), reverse=True)[:max(0, limit)]
    runs = []
    for folder, group in newest:
        info = read_run(folder)
        if info is None:
            continue
        info.group = group
        if folder_lock.held(folder):
            info.status = "running"
        runs.append(info)
    mark_overrides(runs, recipes_dir)
    runs.sort(key=lambda r: (r.date, r.path.name, str(r.path)), reverse=True)
    return RunIndex(runs, len(folders), cut)


def words(run: RunInfo) -> str:
    """What the filter looks in, lower case."""
    seed = "" if run.seed is None else f"seed={run.seed}"
    return " ".join([run.recipe, run.method, run.alpha, run.status, *run.tags, *(f"#{t}" for t in run.tags),
                     run.note, run.overrides, seed, run.run_id, str(run.path), run.group]).lower()


def _key_matches(run: RunInfo, key: str, value: str) -> bool:
    for k, v in run.config.items():
        if (k == key or k.endswith("." + key)) and v.lower() == value:
            return True
    return key in ("status", "tag") and value in ([run.status.lower()] if key == "status"
                                                  else [t.lower() for t in run.tags])


def matches(run: RunInfo, query: str) -> bool:
    """Whether every word of `query` is found in the run (case aside)."""
    text = None
    for word in query.lower().split():
        key, eq, value = word.partition("=")
        if eq and key and _key_matches(run, key, value):
            continue
        text = words(run) if text is None else text
        if word not in text:
            return False
    return True


def filtered(index: RunIndex, query: str) -> RunIndex:
    """The runs matching `query`; `left_out` still counts the runs that were not read."""
    runs = [r for r in index.runs if matches(r, query)]
    return RunIndex(runs, len(runs) + index.left_out, index.walk_cut)


SORTS = {  # column -> how runs are ordered by it (None last)
    "date": lambda r: r.date, "recipe": lambda r: r.recipe.lower(), "status": lambda r: r.status,
    "method": lambda r: r.method.lower(), "seed": lambda r: r.seed, "val ACC": lambda r: r.best_acc,
    "test ACC": lambda r: r.test_acc, "time": lambda r: r.seconds, "epochs": lambda r: r.epochs_done,
}


def sorted_by(index: RunIndex, column: str, descending: bool = True) -> RunIndex:
    """The runs ordered by `column` (SORTS), those without a value last; a group stays
    together, placed by its first run."""
    key = SORTS[column]
    have = [r for r in index.runs if key(r) is not None]
    none = [r for r in index.runs if key(r) is None]
    return RunIndex(sorted(have, key=key, reverse=descending) + none, index.found, index.walk_cut)


def as_dict(run: RunInfo) -> dict:
    """A run as `lfm runs --json` prints it."""
    return {"run": str(run.path), "group": run.group or None, "recipe": run.recipe, "status": run.status,
            "date": run.date, "seed": run.seed, "method": run.method, "alpha": run.alpha,
            "overrides": run.overrides, "val_acc": run.best_acc, "test_acc": run.test_acc,
            "seconds": run.seconds, "epochs": run.epochs_done, "tags": list(run.tags), "note": run.note}
