"""A sweep's state from its folder alone: the plan (sweep.json) and, for every planned run, its
status, progress and best metric read from the run folder's event stream, whichever executor
ran it (here, Ray, Slurm) and whether it runs now. Used by `lfm sweep --status`, the Slurm
watcher and the dashboard's sweep screen; `refresh()` reads only what the event files gained.

Status: `queued` (no run folder yet), `starting` (a folder, no event yet), `running`, `stalled`
(running, but its events have not changed for STALE_S seconds: its process may be gone),
`ok`, `cancelled` (stopped with a checkpoint: `lfm sweep --resume` continues it), `failed`.
Where the events stop short of the run's end (a file cut short), the run's summary.json, written
after its last start, has the last word (`RunProgress.settle`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import layout, untrusted
from engine.contract.events import Event, ProtocolError, parse_line
from lfm_tui import plan as plans

STALE_S = 900.0   # a running run silent this long is shown as stalled
STATUSES = ("ok", "running", "starting", "stalled", "cancelled", "failed", "unreadable", "queued")


@dataclass
class RunProgress:
    """What a sweep view needs of one run, from its events: a light reduction (no loss history),
    so hundreds of runs fit. A later run_started (a resumed run) makes it running again."""
    status: str = ""
    epochs: int = 0
    steps_per_epoch: int = 0
    epoch: int = 0
    step: int = 0
    epochs_done: int = 0
    starts: int = 0
    val_acc: dict[int, float] = field(default_factory=dict)
    best_acc: float | None = None
    best_epoch: int | None = None
    test_acc: float | None = None
    error: str | None = None
    last_time: float = 0.0
    started_at: float = 0.0   # time of the last run_started


    def apply(self, ev: Event) -> None:
        self.last_time = ev.time or self.last_time
        t = ev.type
        if t == "run_started":
            self.status, self.starts = "running", self.starts + 1
            self.started_at = ev.time or self.started_at
            self.epochs, self.steps_per_epoch = int(ev["epochs"]), int(ev["steps_per_epoch"])
            self.error = None
        elif t == "step":
            self.epoch, self.step = ev["epoch"], ev["step"]
        elif t == "eval" and ev.get("split") == "val":
            acc = (ev.get("fused") or {}).get("acc")
            if isinstance(acc, (int, float)):
                self.val_acc[ev["epoch"]] = float(acc)
            self.epochs_done = max(self.epochs_done, int(ev["epoch"]))
        elif t == "checkpoint" and ev.get("best"):
            self.best_epoch = ev["epoch"]
            self.best_acc = self.val_acc.get(ev["epoch"], self.best_acc)
        elif t == "run_finished":
            self.status, self.error = ev["status"], ev.get("error")
            best, test = ev.get("best") or {}, ev.get("test") or {}
            self.best_acc = best.get("acc", self.best_acc) if isinstance(best, dict) else self.best_acc
            self.test_acc = test.get("acc") if isinstance(test, dict) else None

    def settle(self, summary: dict | None, written: float) -> None:
        """How the run ended by its summary.json (written at `written`, Unix time) where the
        events do not say it: a summary older than the last start is a stopped run's, resumed
        since, and says nothing of this one."""
        status = (summary or {}).get("status")
        if self.status not in ("", "running") or status not in ("ok", "cancelled", "failed") \
                or written < self.started_at:
            return
        self.status = status
        if isinstance(summary.get("error"), str):
            self.error = summary["error"]

        def acc(part) -> float | None:
            v = part.get("acc") if isinstance(part, dict) else None
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        self.best_acc = acc(summary.get("best")) if acc(summary.get("best")) is not None else self.best_acc
        self.test_acc = acc(summary.get("test"))
        done = summary.get("epochs_done")
        if isinstance(done, int) and not isinstance(done, bool) and 0 <= done <= max(self.epochs, done):
            self.epochs_done = max(self.epochs_done, done)
        if status == "ok" and self.epochs:
            self.epoch, self.step = self.epochs, self.steps_per_epoch

    @property
    def progress(self) -> float:
        if self.status == "ok":
            return 1.0
        total = self.epochs * self.steps_per_epoch
        if not total:
            return 0.0
        done = max((self.epoch - 1) * self.steps_per_epoch + self.step if self.epoch else 0,
                   self.epochs_done * self.steps_per_epoch)
        return max(0.0, min(1.0, done / total))


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
    progress: RunProgress
    updated: float | None    # when its events last changed (Unix time), None before any

    @property
    def label(self) -> str:
        return f"{self.point.label()} seed {self.point.seed}"


class RunProbe:
    """One planned run folder, followed through its event file."""

    def __init__(self, point: plans.Point, run_dir: Path):
        self.point, self.run_dir = point, Path(run_dir)
        self.tail = EventTail(self.run_dir / layout.EVENTS)
        self.progress = RunProgress()
        self.broken = ""

    def row(self, now: float | None = None) -> RunRow:
        now = time.time() if now is None else now
        if not self.broken:
            try:
                events = self.tail.read()
                if self.tail.restarted:
                    self.progress, self.tail.restarted = RunProgress(), False
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
