"""Helpers for charts: thin a series to what a terminal can show."""
from __future__ import annotations

from typing import Sequence


def thin(points: Sequence[tuple[float, float]], most: int = 400) -> tuple[list[float], list[float]]:
    """At most `most` points, evenly spaced, always keeping the last one."""
    pts = list(points)
    if len(pts) > most:
        stride = len(pts) / most
        pts = [pts[int(i * stride)] for i in range(most - 1)] + [pts[-1]]
    return [p[0] for p in pts], [p[1] for p in pts]
