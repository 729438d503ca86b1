"""Helpers for charts: thin a series to what a terminal can show, tick marks that fit it, and
the legend on a chart's frame."""
from __future__ import annotations

import math
from typing import Sequence

from plotext import colorize
from rich.text import Text


def thin(points: Sequence[tuple[float, float]], most: int = 400) -> tuple[list[float], list[float]]:
    """At most `most` points, evenly spaced, always keeping the last one."""
    pts = list(points)
    if len(pts) > most:
        stride = len(pts) / most
        pts = [pts[int(i * stride)] for i in range(most - 1)] + [pts[-1]]
    return [p[0] for p in pts], [p[1] for p in pts]


def int_ticks(lo: float, hi: float, most: int) -> list[int]:
    """Whole-number ticks over [lo, hi], at most `most` of them, a round step apart (1, 2, 5,
    10, 20, ...); none when no whole number lies in it."""
    first, last = math.ceil(lo), math.floor(hi)
    if last <= first:
        return [first] if first == last else []
    most = max(2, most)
    step = 1
    while len(range(math.ceil(first / step) * step, last + 1, step)) > most:
        step = next(s * 10 ** k for k in range(12) for s in (1, 2, 5) if s * 10 ** k > step)
    return list(range(math.ceil(first / step) * step, last + 1, step))


def unit_ticks(rows: int) -> list[float]:
    """Ticks over [0, 1] for a chart `rows` rows high, each on a row of its own so that a line at
    a tick's value is drawn on that tick's row."""
    if rows >= 5:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    return [0.0, 0.5, 1.0] if rows >= 3 else [0.0, 1.0]


def plot_rows(height: int) -> int:
    """The rows a chart of `height` lines plots in: less the frame's two lines and the x ticks."""
    return max(0, height - 3)


def row_ticks(lo: float, hi: float, rows: int, most: int = 5) -> list[float]:
    """At most `most` ticks over [lo, hi] for a chart `rows` rows high, each the value of a row
    (first and last rows included), so that a label names what its row shows."""
    if rows < 2 or hi <= lo:
        return [lo]
    n = min(most, rows)
    picked = sorted({round(i * (rows - 1) / (n - 1)) for i in range(n)})
    return [lo + k * (hi - lo) / (rows - 1) for k in picked]


def legend(names: list[str], colors: dict[str, str]) -> Text:
    """The series' names in their plotext colours (the terminal's own, as the lines are drawn),
    for a chart frame's subtitle."""
    return Text(" ").join(Text.from_ansi(colorize(f"━ {n}", colors.get(n, "white"))) for n in names)
