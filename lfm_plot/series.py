"""The numbers behind the figures, from run folders: each run's curves read from its
events.jsonl, then the mean and standard deviation over the seeds of a configuration.

Standard library only. events.jsonl is untrusted: lines that are not well-formed events are
skipped (engine/contract/events.py); a file that cannot be read, speaks a newer protocol or holds no
validation result at all is a PlotError naming it.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import events as ev
from engine.contract import layout
from engine.contract import method_registry as registry
from engine.contract.run_state import RunState
from lfm_tui import compare as cmp

FUSED = "fused"


class PlotError(Exception):
    """Input that cannot be plotted: no runs, a damaged events.jsonl, a bad option."""


@dataclass
class RunCurves:
    """One run: alpha by training progress in epochs, at the start of each logged step (x =
    epoch - 1 + (step - 1) / steps per epoch, so that epoch t spans [t - 1, t) and the last step
    ends at `alpha_end`), and validation ACC by epoch (after t epochs: x = t), fused and per
    modality."""
    alpha: dict[float, float] = field(default_factory=dict)
    alpha_end: float | None = None
    val: dict[str, dict[int, float]] = field(default_factory=dict)


@dataclass
class Series:
    """One configuration's curve: at each x, the mean over the seeds that reached x and the
    sample standard deviation (None with one seed)."""
    x: list[float]
    mean: list[float]
    std: list[float | None]
    n: list[int]
    until: float | None = None  # a step curve: where its last value ends (None: at its last x)


def read_curves(run: Path) -> RunCurves:
    """The curves of one run folder. A later event for the same epoch (or step) replaces an
    earlier one: a resumed run repeats the part of an epoch it had not checkpointed."""
    path = Path(run) / layout.EVENTS
    try:
        events = ev.read_events(str(path))
    except OSError as exc:
        raise PlotError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ev.ProtocolError as exc:
        raise PlotError(f"{path}: {exc}") from None
    state = RunState(history=len(events))
    for e in events:
        state.apply(e)
    out = RunCurves()
    out.alpha = {x: float(a) for x, a in state.alpha_by_progress.items() if cmp.finite(a)}  # a diverged run's NaN is left out
    out.alpha_end = state.alpha_until if out.alpha else None
    for record in state.val_history:
        acc = record["fused"].get("acc")
        if cmp.finite(acc):
            out.val.setdefault(FUSED, {})[record["epoch"]] = float(acc)
        for mod, metrics in record["modalities"].items():
            if cmp.finite(metrics.get("acc")):
                out.val.setdefault(mod, {})[record["epoch"]] = float(metrics["acc"])
    if FUSED not in out.val:
        raise PlotError(f"{path}: no validation result in it (expected \"eval\" events with split \"val\", "
                        f"one per epoch); the file is damaged")
    return out


def aggregate(curves: list[dict[float, float]]) -> Series:
    """Mean and sample standard deviation over seeds at every x any seed reached."""
    xs = sorted({x for c in curves for x in c})
    mean, std, n = [], [], []
    for x in xs:
        vals = [c[x] for c in curves if x in c]
        mean.append(statistics.fmean(vals))
        std.append(statistics.stdev(vals) if len(vals) > 1 else None)
        n.append(len(vals))
    return Series(xs, mean, std, n)


def uses_alpha(row: cmp.Row) -> bool:
    info = registry.METHODS.get(row.config.get("method.name", "lfm"))
    return bool(info and info.uses_alpha)


@dataclass
class Panel:
    key: str          # "alpha", "fused" or a modality
    title: str
    ylabel: str
    series: dict[int, Series]  # row index -> its curve (rows without one are absent)
    steps: bool = False  # drawn as steps: each value held until the next (alpha)


def curve_panels(rows: list[cmp.Row]) -> list[Panel]:
    """alpha (where a row weights a matching loss by it), fused validation ACC, then each
    modality's validation ACC, in the order of the comparison table's columns."""
    per_run = {id(r): read_curves(r.path) for row in rows for r in row.runs}
    mods = [k[4:] for k, _ in cmp.columns(rows) if k.startswith("acc_")]
    panels = []
    alpha_rows = {i: aggregate([per_run[id(r)].alpha for r in row.runs])
                  for i, row in enumerate(rows) if uses_alpha(row)}
    for i, s in alpha_rows.items():
        s.until = max((per_run[id(r)].alpha_end or 0.0 for r in rows[i].runs), default=None) or None
    if alpha_rows:
        panels.append(Panel("alpha", "alpha (weight of L_MM)", "alpha", alpha_rows, steps=True))
    for key, title in ((FUSED, "validation ACC, fused"), *((m, f"validation ACC, {m}") for m in mods)):
        series = {}
        for i, row in enumerate(rows):
            got = [per_run[id(r)].val[key] for r in row.runs if key in per_run[id(r)].val]
            if got:
                series[i] = aggregate(got)
        panels.append(Panel(key, title, "ACC (%)", series))
    return panels


def bar_metrics(rows: list[cmp.Row]) -> list[tuple[str, str]]:
    """(test summary key, name): fused ACC, then each modality's ACC, as the table orders them."""
    return [("acc", "fused ACC"), *((k, f"ACC {k[4:]}") for k, _ in cmp.columns(rows) if k.startswith("acc_"))]


def bar_values(rows: list[cmp.Row]) -> list[dict[str, tuple[float, float | None] | None]]:
    """Per row, metric key -> (mean, sample std over seeds), the numbers of `lfm compare`."""
    keys = [k for k, _ in bar_metrics(rows)]
    return [{k: row.stat(k) for k in keys} for row in rows]


def relabel(rows: list[cmp.Row], labels: list[str]) -> None:
    """`FOLDER=TEXT`: the row of the runs at or below FOLDER is labelled TEXT. Both may hold
    `=` (a sweep's grid point folders do): FOLDER ends at the first `=` before which a folder
    is named."""
    for item in labels:
        cuts = [i for i, c in enumerate(item) if c == "=" and i and Path(item[:i]).is_dir()]
        if not cuts or not item[cuts[0] + 1:].strip():
            raise PlotError(f"--label: expected FOLDER=TEXT naming an existing folder, found {item!r}")
        folder, text = item[:cuts[0]], item[cuts[0] + 1:]
        top = Path(folder).resolve()
        hit = [r for r in rows if any(top == p or top in p.parents for p in (x.path.resolve() for x in r.runs))]
        if len(hit) != 1:
            raise PlotError(f"--label {item}: {folder} holds finished runs of {len(hit)} rows; "
                            f"expected the runs of one configuration")
        hit[0].label = text.strip()


def load_rows(folders: list[Path]) -> tuple[list[cmp.Row], list[cmp.Run]]:
    """The comparison table's rows of the finished runs at or below `folders`."""
    try:
        rows, runs = cmp.compare(folders)
    except cmp.CompareError as exc:
        raise PlotError(str(exc)) from None
    if not rows:
        raise PlotError("no finished run among: " + ", ".join(f"{r.path} ({r.status})" for r in runs))
    return rows, runs
