"""The runs under a runs folder, for the History screen: recipe, status, date, method, alpha
strategy, the keys that differ from the recipe, best validation and test ACC, how long it ran.

A run folder is `<runs>/<recipe>/<stamp>-<seed>/` (engine/contract/layout.py); summary.json, when the run
got that far, gives its status and metrics, else its events replayed do (the engine's best
checkpoint and reported status, not a re-derivation). Its recipe.toml, else the recipe its
run_started event carries, gives its configuration. Every file is untrusted: one that cannot be
read gives `unreadable: why`, never an exception."""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine.contract import annotations, layout
from engine.contract import method_registry as registry
from engine.contract import recipe as recipes
from engine.contract import untrusted
from engine.contract.events import Event, ProtocolError, parse_line
from lfm_tui.compare import flatten, resolved_config, varying_keys
from lfm_tui import limits
from engine.contract.run_state import RunState

# keys shown in their own columns or that do not change what a run computes
HIDDEN_KEYS = ("name", "method.name", "alpha.strategy", "train.threads", "train.seed")
CACHE_MAX = 4096  # run folders remembered between reloads (read again when their files change)


@dataclass
class RunInfo:
    path: Path
    recipe: str
    status: str
    date: str         # "YYYY-MM-DD HH:MM:SS"
    best_acc: float | None
    epochs_done: int | None
    method: str = ""                 # the method's label (engine/contract/method_registry.py)
    alpha: str = ""                  # the alpha strategy; "-" for a method without alpha
    test_acc: float | None = None
    seconds: float | None = None     # how long the engine ran (a resumed run: every part of it)
    config: dict[str, str] = field(default_factory=dict, repr=False)  # the resolved recipe, flat
    overrides: str = ""              # `key=value` where it differs from its recipe (mark_overrides)
    seed: int | None = None          # train.seed
    tags: list[str] = field(default_factory=list)  # the user's (engine/contract/annotations.py)
    note: str = ""
    group: str = ""                  # the sweep or seed series it belongs to, from the runs folder (run_index)

    @property
    def run_id(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def _date(folder: Path, lines: list[str] = ()) -> str:
    """When the run started: its folder's stamp, else (a sweep's `seed-<s>`) its first event's
    time, else its folder's modification time."""
    stamp = folder.name.split("-")[:2]
    try:
        return datetime.strptime("-".join(stamp), "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        pass
    first = _event_time(lines[0]) if lines else None
    try:
        when = first if first is not None and 0 < first < 1e11 else folder.stat().st_mtime
        return datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S")
    except (OSError, ValueError, OverflowError):
        return ""


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _table(v) -> dict:
    return v if isinstance(v, dict) else {}


def _event(line: str) -> dict:
    try:
        obj = untrusted.loads(line, allow_nan=True)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _event_time(line: str) -> float | None:
    return _number(_event(line).get("time"))


def _starts(lines: list[str]) -> list[int]:
    """The lines that are run_started events (one per engine process that ran the run)."""
    return [i for i, line in enumerate(lines) if '"run_started"' in line and _event(line).get("type") == "run_started"]


def run_seconds(lines: list[str]) -> float | None:
    """How long the engine ran: from each run_started to the last event before the next one
    (the pause between a stop and its resume left out), added up."""
    starts = _starts(lines)
    total, known = 0.0, False
    for n, first in enumerate(starts):
        end = (starts[n + 1] if n + 1 < len(starts) else len(lines)) - 1
        while end > first and not lines[end].strip():
            end -= 1
        t0, t1 = _event_time(lines[first]), _event_time(lines[end])
        if t0 is not None and t1 is not None and t1 >= t0:
            total, known = total + t1 - t0, True
    return total if known else None


def _config(folder: Path, lines: list[str]) -> dict[str, str]:
    """The run's recipe, flat: recipe.toml, else the one its first run_started carries."""
    try:
        return resolved_config(untrusted.toml_loads(untrusted.read_text(folder / layout.RECIPE)),
                               str(folder / layout.RECIPE))
    except (OSError, ValueError):
        pass
    for i in _starts(lines)[:1]:
        recipe = _event(lines[i]).get("recipe")
        return resolved_config(recipe, str(folder / layout.EVENTS)) if isinstance(recipe, dict) else {}
    return {}


def _replay(lines: list[str]) -> RunState:
    state = RunState(history=0)
    for line in lines:
        item = parse_line(line)  # raises ProtocolError for a newer protocol
        if isinstance(item, Event):
            state.apply(item)
    return state


def event_lines(path: Path, head: int, tail: int) -> list[str]:
    """An events.jsonl's lines, at most `head` + `tail` bytes of it: a longer file gives the
    complete lines of its first `head` bytes (the run_started that carries the recipe) and of
    its last `tail` bytes (how it went and ended)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(0)
        if size <= head + tail:
            data = fh.read(head + tail)
        else:
            first = fh.read(head)
            fh.seek(size - tail)
            last = fh.read(tail)
            data = first[:first.rfind(b"\n") + 1] + last[last.find(b"\n") + 1:]
    return data.decode("utf-8", errors="replace").splitlines()


def recorded_events(run_dir: Path, max_bytes: int | None = None) -> tuple[list[Event], bool]:
    """The events of a run folder's events.jsonl, read up to `max_bytes` (complete lines), and
    whether the file went on past that. OSError for a file that cannot be read, ProtocolError
    for a stream of a newer protocol (engine/events.read_events' rules otherwise)."""
    max_bytes = limits.REPLAY_MAX_BYTES if max_bytes is None else max_bytes
    with open(Path(run_dir) / layout.EVENTS, "rb") as fh:
        data = fh.read(max_bytes + 1)
    cut = len(data) > max_bytes
    if cut:
        data = data[:data.rfind(b"\n", 0, max_bytes) + 1]
    events = []
    for line in untrusted.lines(io.StringIO(data.decode("utf-8", errors="replace"))):
        item = parse_line(line)
        if isinstance(item, Event):
            events.append(item)
    return events, cut


def _read(folder: Path) -> RunInfo:
    recipe = folder.parent.name
    try:
        lines = event_lines(folder / layout.EVENTS, limits.HISTORY_EVENTS_HEAD_BYTES,
                            limits.HISTORY_EVENTS_TAIL_BYTES)
    except OSError as exc:
        return RunInfo(folder, recipe, f"unreadable: {exc}", _date(folder), None, None)
    date = _date(folder, lines)
    config = _config(folder, lines)
    recipe = config.get("name", "")[:layout.NAME_MAX] or recipe  # a sweep's run folder is named by its seed
    data = layout.read_summary(folder)
    if data is not None and isinstance(data.get("status"), str) and data["status"]:
        name, epochs, method = data.get("recipe_name"), data.get("epochs_done"), data.get("method")
        info = RunInfo(folder, name if isinstance(name, str) and name else recipe, data["status"][:40], date,
                       _number(_table(data.get("best")).get("acc")),
                       epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None,
                       test_acc=_number(_table(data.get("test")).get("acc")))
        if isinstance(method, str) and "method.name" not in config:
            config["method.name"] = method
    else:
        try:
            state = _replay(lines)
        except ProtocolError as exc:  # a newer protocol
            return RunInfo(folder, recipe, f"unreadable: {exc}", date, None, None)
        status = state.status if state.status and state.status != "running" else "incomplete"
        info = RunInfo(folder, recipe, status, date, state.best_acc, state.epochs_done if state.val_history else None,
                       test_acc=state.test_acc)
    method = config.get("method.name", "")
    known = registry.METHODS.get(method)
    info.method = known.label(config) if known else method[:40]
    info.alpha = config.get("alpha.strategy", "")[:40] if known is None or known.uses_alpha else "-"
    info.seconds, info.config = run_seconds(lines), config
    seed = config.get("train.seed", "")
    info.seed = int(seed) if seed.isdigit() else None
    notes = annotations.read(folder)
    info.tags, info.note = notes.tags, notes.note
    return info


_cache: dict[Path, tuple[tuple, RunInfo]] = {}


def _stamp(folder: Path) -> tuple:
    """What a run's line depends on: its files' sizes and modification times."""
    out = []
    for name in (layout.EVENTS, layout.SUMMARY, layout.RECIPE, annotations.NOTES):
        try:
            st = (folder / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def read_run(folder: Path) -> RunInfo | None:
    """A run folder's line in the history (None: not a run folder); read again only when its
    files changed since the last time."""
    if not (folder / layout.EVENTS).is_file():
        return None
    key = _stamp(folder)
    hit = _cache.get(folder)
    if hit is None or hit[0] != key:
        if len(_cache) >= CACHE_MAX:
            _cache.clear()
        hit = _cache[folder] = (key, _read(folder))
    return dataclasses.replace(hit[1], tags=list(hit[1].tags))


def _base_config(recipes_dir: Path | None, name: str) -> dict[str, str] | None:
    """The recipe file a run was made from (`<recipes_dir>/<name>.toml`), resolved, or None."""
    if recipes_dir is None or not name or Path(name).name != name:
        return None
    try:
        return flatten(recipes.to_dict(recipes.load(Path(recipes_dir) / f"{name}.toml")))
    except (recipes.RecipeError, OSError, ValueError):
        return None


def mark_overrides(runs: list[RunInfo], recipes_dir: Path | None = None) -> None:
    """Each run's `overrides`: the keys whose values differ from its recipe in `recipes_dir`,
    or, where that recipe is not there, from the other runs of the same recipe."""
    by_recipe: dict[str, list[RunInfo]] = {}
    for r in runs:
        by_recipe.setdefault(r.recipe, []).append(r)
    for name, members in by_recipe.items():
        base = _base_config(recipes_dir, name)
        keys = None if base is not None else varying_keys([r.config for r in members if r.config])
        for r in members:
            differ = [k for k in r.config if k not in HIDDEN_KEYS
                      and (base.get(k) != r.config[k] if base is not None else k in keys)]
            r.overrides = " ".join(f"{k}={r.config[k]}" for k in differ)
