"""One run as the dashboard sees it: a live engine or a replayed events.jsonl, its state, its log
lines and how it ended. Plain Python (no Textual): the app feeds it, widgets read it."""
from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from engine.contract import layout
from engine.contract import folder_lock
from engine.contract.events import Event, Log, LogLine, ProtocolError, RunFinished, RunStarted, read_events
from engine.contract.outcome import client_exit, tensorboard_command
from lfm_tui.client import EngineClient, Exited
from engine.contract.run_state import RunState

LOG_LINES = 2000   # log lines kept per run
STDERR_TAIL = 60   # stderr lines kept to explain a crash

_ids = itertools.count(1)


@dataclass
class RunSession:
    label: str                      # what the run tabs show (recipe name and overrides)
    args: list[str] = field(default_factory=list)   # `python -m engine` arguments; [] for a replay
    clock: Callable[[], float] = time.time
    replay: bool = False
    following: bool = False         # a replay that keeps reading its run folder's events (lfm_tui/follow.py)
    id: int = field(default_factory=lambda: next(_ids))
    state: RunState = field(default_factory=RunState)
    logs: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))  # (stream, text)
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=STDERR_TAIL))
    client: EngineClient | None = None
    exit_code: int | None = None
    stop_note: str = ""             # what the last `s` did, shown in the header
    started: float = 0.0            # by the app's clock: when the session began
    ended: float = 0.0
    version: int = 0                # bumped on every change: widgets redraw when it moves
    log_total: int = 0              # log lines ever added (the deque keeps the last LOG_LINES)
    resumed_as: "RunSession | None" = None  # the session that continued this run (`r`)

    def __post_init__(self) -> None:
        self.started = self.started or self.clock()

    # ------------------------------------------------------------------ feeding
    def feed(self, item: Event | LogLine | Exited) -> None:
        self.version += 1
        if isinstance(item, Exited):
            self.finish(item.code)
        elif isinstance(item, LogLine):
            if item.stream == "stderr":
                self.stderr_tail.append(item.text)
            self.add_log(item.stream, item.text)
        else:
            self.state.apply(item)
            if isinstance(item, RunStarted) and item.resumed_from is not None:
                at = item.resumed_from
                self.add_log("info", f"resumed at epoch {at.get('epoch')}, step {at.get('step')}")
            elif isinstance(item, Log):
                self.add_log(item.level, item.message)
            elif isinstance(item, RunFinished) and item.error:
                self.add_log("error", item.error)

    def add_log(self, stream: str, text: str) -> None:
        self.logs.append((stream, text))
        self.log_total += 1
        self.version += 1

    def finish(self, code: int) -> None:
        """The engine exited with `code`: settle the status, explaining an exit without a report."""
        self.exit_code, self.ended = code, self.clock()
        s = self.state
        if s.status in ("ok", "cancelled", "failed"):
            if s.status == "failed" and not s.traceback:
                s.traceback = self.stderr_text()
            return
        s.status, _, s.error = client_exit(None, code, self.client is not None and bool(self.client.stop_sent))
        if s.status == "failed":
            s.traceback = self.stderr_text() or "(the engine wrote nothing to stderr)"

    def stderr_text(self) -> str:
        return "\n".join(l for l in self.stderr_tail if l.strip())

    @classmethod
    def from_events(cls, events: Iterable[Event], label: str, clock: Callable[[], float] = time.time
                    ) -> "RunSession":
        """A finished (or interrupted) run rebuilt from its recorded events."""
        s = cls(label=label, clock=clock, replay=True)
        for ev in events:
            s.feed(ev)
        if s.state.status == "running":
            s.state.status = "incomplete"
        return s

    @classmethod
    def resuming(cls, previous: "RunSession", clock: Callable[[], float] = time.time) -> "RunSession":
        """The session that continues `previous`'s run with `--resume`: the run folder's
        events.jsonl replayed first (the whole history, whatever this dashboard saw of it), then
        the engine's events. The folder is untrusted: an unreadable history is said in the log."""
        run_dir = previous.state.run_dir
        s = cls(label=f"{previous.state.recipe_name or previous.label} (resumed)", args=["--resume", run_dir],
                clock=clock)
        try:
            for ev in read_events(str(Path(run_dir) / layout.EVENTS)):
                s.feed(ev)
        except (OSError, ProtocolError) as exc:
            s.add_log("warning", f"the run's earlier events cannot be shown: {exc}")
        st = s.state  # how the run ends is for the resumed engine to say
        st.status, st.error, st.traceback, st.exit_code = "", None, None, None
        return s

    # ------------------------------------------------------------------ reading
    @property
    def live(self) -> bool:
        """Launched and not yet exited (a replay never is)."""
        return not self.replay and self.exit_code is None

    def latest(self) -> "RunSession":
        """The session that now holds this run: itself, or the one that resumed it last."""
        s = self
        while s.resumed_as is not None:
            s = s.resumed_as
        return s

    @property
    def status(self) -> str:
        if self.resumed_as is not None:  # the tab of a resumed run follows the run
            latest = self.latest()
            return "resumed" if latest.live else latest.status
        if self.live:
            return "stopping" if self.client and self.client.stop_sent else "running"
        return self.state.status or ("starting" if not self.replay else "incomplete")

    def progress(self) -> float:
        return self.state.progress

    def elapsed(self) -> float:
        s = self.state
        if self.replay:
            end = s.finished_at or (self.clock() if self.following else s.started_at)
            return max(0.0, end - s.started_at) if s.started_at else 0.0
        return max(0.0, (self.ended or self.clock()) - self.started)

    def remaining(self) -> float | None:
        """Seconds left at the pace of the steps this session has seen; None before it is known."""
        s = self.state
        if not self.live or not s.total_steps or s.pace_from is None:
            return None
        first_step, first_time = s.pace_from
        done = s.global_step - first_step
        if done <= 0:
            return None
        return (s.last_step_time - first_time) * (s.total_steps - s.global_step) / done

    def resumable(self) -> bool:
        return self.resume_refusal(check_lock=False) is None

    def resume_refusal(self, check_lock: bool = True) -> str | None:
        """Why `r` cannot continue this run now (one line), or None when it can; `check_lock`
        also asks whether another process holds the run folder."""
        s = self.latest()
        run_dir = s.state.run_dir
        if s.live:
            return "this run is running: s stops it" if s is self else f"already resumed: {s.label} is running"
        if not run_dir:
            return "this run never reached its run folder: nothing to resume"
        if s.state.status == "ok" or layout.finished(Path(run_dir)):
            return f"{s.state.run_name or run_dir} has finished: nothing to resume"
        if s.following:
            return f"{s.state.run_name or run_dir} is running in another process"
        if not layout.resumable(Path(run_dir)):
            return f"{run_dir} has no {layout.CHECKPOINTS}/{layout.LAST} to continue from"
        holder = folder_lock.in_use(Path(run_dir)) if check_lock else None
        return str(holder) if holder is not None else None

    def tensorboard_command(self) -> str:
        return tensorboard_command(self.state.run_dir) if self.state.run_dir else ""
