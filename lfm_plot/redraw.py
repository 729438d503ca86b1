"""A figure drawn again from the JSON file `lfm plot` wrote beside it (`lfm plot --from FILE`):
the numbers drawn, with the current figure code and style, without the run folders.

A curves file holds `panels` (each a `key`, a `title` and `rows`: `label`, `x`, `mean`, `std`,
optionally `until`); a bars file `metrics` (`key`, `name`) and `rows` (`label`, `values`: per
metric key null or `mean` and `std`), optionally `kind`. The file is untrusted: read bounded
(engine/contract/untrusted.py) and checked whole before anything is drawn; a file of another
shape is a PlotError naming what is wrong.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from engine.contract import untrusted
from lfm_plot.series import Panel, PlotError, Series

MAX_ROWS = 1000       # rows of a figure, and panels or metrics
MAX_POINTS = 1_000_000  # points of all curves together
ALPHA = "alpha"       # the panel `lfm plot` draws as steps, on an alpha axis


@dataclass
class Drawn:
    """What a JSON file says to draw: `figure` "curves" (labels, panels) or "bars" (labels,
    metrics, values and `kind`: bars, dots, or None where the file does not say)."""
    figure: str
    labels: list[str]
    panels: list[Panel] | None = None
    metrics: list[tuple[str, str]] | None = None
    values: list[dict] | None = None
    kind: str | None = None


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise PlotError(f"{where}: expected a number, found {str(v)[:40]!r}")
    return float(v)


def _list(v, where: str, limit: int = MAX_ROWS) -> list:
    if not isinstance(v, list) or not v:
        raise PlotError(f"{where}: expected a non-empty list")
    if len(v) > limit:
        raise PlotError(f"{where}: {len(v)} items, more than the {limit} a figure may have")
    return v


def _text(obj: dict, key: str, where: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str) or not v.strip():
        raise PlotError(f"{where}: expected text at {key!r}")
    return v


def _object(v, where: str) -> dict:
    if not isinstance(v, dict):
        raise PlotError(f"{where}: expected an object")
    return v


def _series(row: dict, where: str) -> Series:
    x = [_number(v, f"{where} x") for v in _list(row.get("x"), f"{where} x", MAX_POINTS)]
    mean = [_number(v, f"{where} mean") for v in _list(row.get("mean"), f"{where} mean", MAX_POINTS)]
    std = [None if v is None else _number(v, f"{where} std") for v in _list(row.get("std"), f"{where} std", MAX_POINTS)]
    if not len(x) == len(mean) == len(std):
        raise PlotError(f"{where}: x, mean and std of different lengths ({len(x)}, {len(mean)}, {len(std)})")
    if any(b < a for a, b in zip(x, x[1:])):
        raise PlotError(f"{where}: x is not in increasing order")
    n = row.get("n")  # seeds behind each point: not drawn, kept where the file has them
    n = n if isinstance(n, list) and len(n) == len(x) and all(type(v) is int for v in n) else []
    until = row.get("until")
    return Series(x, mean, std, n, None if until is None else _number(until, f"{where} until"))


def curves(doc: dict) -> Drawn:
    """Labels in the order of the panel with the most rows (`lfm plot`'s validation ACC, fused,
    which has every row), then any other panel's; each series keyed by its label's index."""
    panels, points, seen = [], 0, []
    for k, p in enumerate(_list(doc.get("panels"), "panels")):
        p = _object(p, f"panels[{k}]")
        key, title = _text(p, "key", f"panels[{k}]"), _text(p, "title", f"panels[{k}]")
        rows = {}
        for j, r in enumerate(_list(p.get("rows"), f"panel {key!r} rows")):
            where = f"panel {key!r} row {j + 1}"
            label = _text(_object(r, where), "label", where)
            if label in rows:
                raise PlotError(f"panel {key!r}: the row {label!r} twice")
            rows[label] = _series(r, where)
            points += len(rows[label].x)
            if points > MAX_POINTS:
                raise PlotError(f"more than the {MAX_POINTS} points a figure may have")
        panels.append((key, title, rows))
    for _, _, rows in sorted(panels, key=lambda p: -len(p[2])):
        seen += [label for label in rows if label not in seen]
    index = {label: i for i, label in enumerate(seen)}
    return Drawn("curves", seen, panels=[
        Panel(key, title, ALPHA if key == ALPHA else "ACC (%)", {index[lb]: s for lb, s in rows.items()},
              steps=key == ALPHA) for key, title, rows in panels])


def bars(doc: dict) -> Drawn:
    metrics = []
    for k, m in enumerate(_list(doc.get("metrics"), "metrics")):
        m = _object(m, f"metrics[{k}]")
        metrics.append((_text(m, "key", f"metrics[{k}]"), _text(m, "name", f"metrics[{k}]")))
    if len({k for k, _ in metrics}) != len(metrics):
        raise PlotError("metrics: a key twice")
    labels, values = [], []
    for j, r in enumerate(_list(doc.get("rows"), "rows")):
        where = f"row {j + 1}"
        labels.append(_text(_object(r, where), "label", where))
        got = _object(r.get("values"), f"{where} values")
        row = {}
        for key, _ in metrics:
            v = got.get(key)
            if v is not None:
                v = _object(v, f"{where} {key}")
                sd = v.get("std")
                row[key] = (_number(v.get("mean"), f"{where} {key} mean"),
                            None if sd is None else _number(sd, f"{where} {key} std"))
            else:
                row[key] = None
        values.append(row)
    kind = doc.get("kind")
    if kind not in (None, "bars", "dots"):
        raise PlotError(f"kind: expected bars or dots, found {str(kind)[:40]!r}")
    return Drawn("bars", labels, metrics=metrics, values=values, kind=kind)


def read(path: Path) -> Drawn:
    """The figure a JSON file of `lfm plot` holds: PlotError (one line, naming the file) where it
    cannot be read, is over a size or nesting bound, or is not of either shape."""
    try:
        doc = untrusted.read_json(path)
    except OSError as exc:
        raise PlotError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise PlotError(f"{path}: not a JSON file lfm plot can read ({exc})") from None
    try:
        if isinstance(doc, dict) and "panels" in doc:
            return curves(doc)
        if isinstance(doc, dict) and "metrics" in doc:
            return bars(doc)
        raise PlotError("expected the curves (\"panels\") or bars (\"metrics\", \"rows\") file lfm plot writes")
    except PlotError as exc:
        raise PlotError(f"{path}: {exc}") from None
