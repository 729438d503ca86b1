"""A sweep's state from its folder alone: the plan (sweep.json) and, for every planned run, its
status, progress and best metric read from the run folder's event stream, whichever executor
ran it (here, Ray, Slurm) and whether it runs now. Used by `lfm sweep --status`, the Slurm
watcher and the dashboard's sweep screen; `refresh()` reads only what the event files gained.

Status: `queued` (no run folder yet), `starting` (a folder, no event yet), `running`, `stalled`
(running, but its events have not changed for STALE_S seconds: its process may be gone),
`ok`, `cancelled` (stopped with a checkpoint: `lfm sweep --resume` continues it), `failed`.
Each run's events are folded by the one reducer of a stream (engine/contract/run_state.py), without
its loss history, so that hundreds of runs fit. Where the events stop short of the run's end (a
file cut short), the run's summary.json, written after its last start, has the last word
(`RunState.settle`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.contract import layout, untrusted
from engine.contract.events import Event, ProtocolError, parse_line
from engine.contract.run_state import RunState
from lfm_tui import plan as plans

STALE_S = 900.0   # a running run silent this long is shown as stalled
STATUSES = ("ok", "running", "starting", "stalled", "cancelled", "failed", "unreadable", "queued")


def light() -> RunState:
    """The state of one of many runs: no loss or alpha series kept."""
    return RunState(history=0)


class EventTail:
    """The events appended to an events.jsonl since the last read (complete lines only), at most
    READ_BYTES a read; a line longer than untrusted.MAX_LINE_BYTES is skipped, not held."""

    READ_BYTES = 64 * 1024 ** 2

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self.rest = b""
        self.skipping = False    # inside a line too long to hold: dropped up to its end
        self.restarted = False   # the file was replaced since the last read: start over

    def read(self) -> list[Event]:
        """New events; raises ProtocolError for a newer protocol. A file replaced by a shorter
        one (a run set aside and started again) is read from its start."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self.offset:
            self.offset, self.rest, self.skipping, self.restarted = 0, b"", False, True
        if size == self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(min(size - self.offset, self.READ_BYTES))
        self.offset += len(data)
        *lines, self.rest = (self.rest + data).split(b"\n")
        if self.skipping and lines:
            lines, self.skipping = lines[1:], False
        if len(self.rest) > untrusted.MAX_LINE_BYTES:
            self.rest, self.skipping = b"", True
        out = []
        for raw in lines:
            item = parse_line(raw.decode("utf-8", errors="replace"))
            if isinstance(item, Event):
                out.append(item)
        return out


@dataclass
class RunRow:
    point: plans.Point
    run_dir: Path
    status: str
    progress: RunState
    updated: float | None    # when its events last changed (Unix time), None before any

    @property
    def label(self) -> str:
        return f"{self.point.label()} seed {self.point.seed}"


class RunProbe:
    """One planned run folder, followed through its event file."""

    def __init__(self, point: plans.Point, run_dir: Path):
        self.point, self.run_dir = point, Path(run_dir)
        self.tail = EventTail(self.run_dir / layout.EVENTS)
        self.progress = light()
        self.broken = ""

    def row(self, now: float | None = None) -> RunRow:
        now = time.time() if now is None else now
        if not self.broken:
            try:
                events = self.tail.read()
                if self.tail.restarted:
                    self.progress, self.tail.restarted = light(), False
                for ev in events:
                    self.progress.apply(ev)
            except (ProtocolError, KeyError, TypeError, ValueError, OSError) as exc:  # OSError: a folder, say
                self.broken = str(exc)
            if self.progress.status in ("", "running"):
                self._settle()
        try:
            updated: float | None = os.stat(self.tail.path).st_mtime
        except OSError:
            updated = None
        return RunRow(self.point, self.run_dir, self._status(updated, now), self.progress, updated)

    def _settle(self) -> None:
        path = self.run_dir / layout.SUMMARY
        try:
            written = path.stat().st_mtime
        except OSError:
            return
        self.progress.settle(layout.read_summary(self.run_dir), written)

    def _status(self, updated: float | None, now: float) -> str:
        if self.broken:
            return "unreadable"
        p = self.progress
        if not p.status:
            if updated is None:
                return "starting" if self.run_dir.is_dir() else "queued"
            return "starting"
        if p.status == "running" and updated is not None and now - updated > STALE_S:
            return "stalled"
        return p.status


class SweepStatus:
    """A sweep folder: its plan (read, not validated: a sweep made by an older version still
    shows) and a probe per planned run. SweepError where it is not a sweep folder, or where its
    plan puts two grid points into one folder (plan.points)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.plan = plans.Plan.read(self.folder)
        self.grid = self.plan.grid
        self.probes = [RunProbe(p, plans.run_dir(self.folder, p)) for p in self.plan.points()]

    @property
    def name(self) -> str:
        return self.plan.name

    def refresh(self, now: float | None = None) -> list[RunRow]:
        now = time.time() if now is None else now
        return [p.row(now) for p in self.probes]


def age_text(updated: float | None, now: float) -> str:
    """How long ago, briefly: '12 s', '5 min', '3 h' ('' for never)."""
    if updated is None:
        return ""
    s = max(0, int(now - updated))
    return f"{s} s" if s < 120 else f"{s // 60} min" if s < 7200 else f"{s // 3600} h"


def counts(rows: list[RunRow]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r.status] = out.get(r.status, 0) + 1
    return {s: out[s] for s in STATUSES if s in out}


def find_sweeps(runs_dir: Path, depth: int = 3) -> list[Path]:
    """Sweep folders (and seed series) at most `depth` levels below `runs_dir`, newest first."""
    found: list[Path] = []
    root = Path(runs_dir)
    if not root.is_dir():
        return found
    level = [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            try:
                children = [c for c in d.iterdir() if c.is_dir()]
            except OSError:
                continue
            for c in children:
                (found if layout.is_sweep(c) else nxt).append(c)
        level = nxt
    return sorted(found, key=lambda p: (p.name, str(p)), reverse=True)
