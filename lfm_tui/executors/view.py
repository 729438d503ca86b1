"""What a sweep shows in the terminal while several runs execute (`--jobs`, Ray): a line per
running run with where it runs, its epoch, progress and validation ACC, and a line printed as
each run ends; and the status table of `lfm sweep --status` and the Slurm watcher."""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from engine.contract.events import Event, LogLine
from engine.contract.run_state import RunState
from engine.contract.outcome import EXIT_CANCELLED, EXIT_OK, exit_text, shown, unreported_exit
from lfm_tui.executors.task import Task
from lfm_tui.lines import clean
from lfm_tui.sweep_status import RunRow, age_text, counts, light

STYLE = {"ok": "cyan", "running": "green", "starting": "green", "cancelled": "yellow", "stalled": "yellow",
         "failed": "red", "unreadable": "red", "queued": "dim"}


def _pct(p: RunState) -> str:
    return f"{100 * p.progress:.0f}%"


def _acc(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


@dataclass
class _Live:
    task: Task
    where: str
    progress: RunState = field(default_factory=light)
    started: float = field(default_factory=time.monotonic)
    stderr: collections.deque = field(default_factory=lambda: collections.deque(maxlen=20))


class SweepView:
    """A Rich renderable (under `rich.live.Live`) fed by the executor: `start`, `feed`, `end`."""

    def __init__(self, console, total: int, title: str):
        self.console, self.total, self.title = console, total, title
        self.live: dict[int, _Live] = {}
        self.ended: collections.Counter = collections.Counter()
        self.began = time.monotonic()

    def start(self, task: Task, where: str, note: str = "") -> None:
        self.live[task.index] = _Live(task, where)
        if note:
            self.console.print(f"[dim][{task.index + 1}/{self.total}] {task.label}: {note}[/]")

    def feed(self, index: int, item) -> None:
        run = self.live.get(index)
        if run is None:
            return
        if isinstance(item, Event):
            before = run.progress.malformed_events
            run.progress.apply(item)
            if run.progress.malformed_events > before:  # an event without the fields it should carry
                run.stderr.append(f"(an unreadable {item.type!r} event was skipped)")
        elif isinstance(item, LogLine) and item.stream == "stderr" and item.text.strip():
            run.stderr.append(item.text)

    def skipped(self, task: Task) -> None:
        self.ended["skipped"] += 1
        self.console.print(f"[dim][{task.index + 1}/{self.total}] {task.label}: finished, skipped[/]")

    def end(self, task: Task, code: int, stderr: list[str] | None = None, note: str = "",
            stopped: bool = False) -> str:
        """The run exited with `code` (`stopped`: after a stop request): one line saying how;
        returns its status ('ok', 'cancelled', 'failed')."""
        run = self.live.pop(task.index, None) or _Live(task, "")
        run.stderr.extend(stderr or [])
        p = run.progress
        status, error = p.status, p.error
        if status not in ("ok", "cancelled", "failed"):
            # no run_finished: stopped while starting, or it died
            status, error = ("cancelled", "stopped before it started training") if stopped and code != EXIT_OK \
                else unreported_exit(code)
        elif code not in (EXIT_OK, EXIT_CANCELLED) and status != "failed":
            status = "failed"
        self.ended[status] += 1
        secs = time.monotonic() - run.started
        mark = {"ok": "[cyan]✓[/]", "cancelled": "[yellow]■[/]"}.get(status, "[red]✗[/]")
        head = f"{mark} [{task.index + 1}/{self.total}] {task.label}: {status}"
        if status == "ok" and p.test_acc is not None:
            head += f", test ACC {p.test_acc:.2f}"
        head += f" ({secs:.1f} s{', ' + run.where if run.where else ''}{', ' + note if note else ''})"
        self.console.print(head, highlight=False)
        if status == "failed":
            detail = clean(error) if error else exit_text(code)  # a library's colour codes never reach the terminal
            tail = [clean(line) for line in run.stderr if line.strip()][-8:]
            self.console.print(Text("  " + "\n  ".join([detail, *tail]), style="red"))
        return status

    def __rich__(self):
        t = Table(title=self._title(), title_justify="left", expand=False, box=None, pad_edge=False)
        for col, just in (("run", "left"), ("where", "left"), ("epoch", "right"), ("progress", "right"),
                          ("val ACC", "right"), ("best", "right")):
            t.add_column(col, justify=just)
        for run in sorted(self.live.values(), key=lambda r: r.task.index):
            p = run.progress
            last = p.val_acc.get(p.epochs_done) if p.epochs_done else None
            t.add_row(f"[{run.task.index + 1}] {run.task.label}", run.where,
                      f"{p.epoch}/{p.epochs}" if p.epochs else "…", _pct(p), _acc(last), _acc(p.best_acc))
        return t

    def _title(self) -> str:
        done = sum(self.ended.values())
        parts = [f"{len(self.live)} running", f"{done} ended"]
        parts += [f"{n} {s}" for s, n in self.ended.items() if s != "ok" and n]
        mins, secs = divmod(int(time.monotonic() - self.began), 60)
        return f"{self.title}: {self.total} runs, " + ", ".join(parts) + f"  {mins}:{secs:02d}"


def status_table(rows: list[RunRow], grid_keys: list[str], title: str, now: float | None = None) -> Table:
    """Every planned run of a sweep: its grid values and seed, status, epoch, progress, best
    validation ACC, test ACC and when its events last changed. Names and values come from the
    sweep folder: shown as text (`shown`), never as markup or escape codes."""
    now = time.time() if now is None else now
    t = Table(title=Text(shown(title)), title_justify="left", caption_justify="left")
    for k in grid_keys:
        t.add_column(Text(shown(k)))
    for col in ("seed", "status", "epoch", "progress", "best val ACC", "test ACC", "updated"):
        t.add_column(col, justify="left" if col == "status" else "right")
    for r in rows:
        p = r.progress
        t.add_row(*(Text(shown(r.point.values.get(k, ""))) for k in grid_keys), str(r.point.seed),
                  Text(r.status, style=STYLE.get(r.status, "")),
                  f"{p.epoch}/{p.epochs}" if p.epochs else "", _pct(p) if p.epochs else "",
                  _acc(p.best_acc), _acc(p.test_acc), age_text(r.updated, now) + (" ago" if r.updated else ""))
    t.caption = ", ".join(f"{n} {s}" for s, n in counts(rows).items())
    return t
