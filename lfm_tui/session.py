"""One run as the dashboard sees it: a live engine or a replayed events.jsonl, its state, its log
lines and how it ended. Plain Python (no Textual): the app feeds it, and the session tells its
listener what kind of thing changed (`Change`); the run screen draws from it when told."""
from __future__ import annotations

import enum
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
FINAL = ("ok", "cancelled", "failed")


class Change(enum.Flag):
    """What changed in a session, so that only the panels that draw it are drawn again."""
    NONE = 0
    PROGRESS = enum.auto()    # a step: the header's progress, the loss and alpha charts
    EVALUATION = enum.auto()  # a validation, checkpoint or alpha update: the table, the alpha chart
    LOG = enum.auto()         # log lines
    STATUS = enum.auto()      # how the run stands (started, stopping, ended, resumed): header, tabs
    ALL = PROGRESS | EVALUATION | LOG | STATUS


# what each event changes (the log lines an event adds say so themselves: add_log)
EVENT_CHANGES = {"step": Change.PROGRESS, "eval": Change.EVALUATION, "checkpoint": Change.EVALUATION,
                 "alpha_updated": Change.EVALUATION, "run_started": Change.ALL & ~Change.LOG,
                 "preparing": Change.STATUS,
                 "run_finished": Change.STATUS | Change.EVALUATION}


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
    log_total: int = 0              # log lines ever added (the deque keeps the last LOG_LINES)
    resumed_as: "RunSession | None" = None  # the session that continued this run (`r`)
    # set by its own methods only: "" before run_started, "running", then ok, cancelled, failed, incomplete
    run_status: str = field(default="", init=False)
    error: str | None = field(default=None, init=False)
    traceback: str | None = field(default=None, init=False)
    listener: Callable[["RunSession", Change], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.started = self.started or self.clock()

    def changed(self, change: Change) -> None:
        if change and self.listener is not None:
            self.listener(self, change)

    # ------------------------------------------------------------------ feeding
    def feed(self, item: Event | LogLine | Exited) -> None:
        if isinstance(item, Exited):
            self.finish(item.code)
        elif isinstance(item, LogLine):
            if item.stream == "stderr":
                self.stderr_tail.append(item.text)
            self.add_log(item.stream, item.text)
        else:
            self.state.apply(item)
            if isinstance(item, RunStarted):
                self.run_status, self.error, self.traceback = "running", None, None
                if item.resumed_from is not None:
                    at = item.resumed_from
                    self.add_log("info", f"resumed at epoch {at.get('epoch')}, step {at.get('step')}")
            elif isinstance(item, Log):
                self.add_log(item.level, item.message)
            elif isinstance(item, RunFinished):
                self.run_status, self.error, self.traceback = self.state.status, self.state.error, self.state.traceback
                if item.error:
                    self.add_log("error", item.error)
            self.changed(EVENT_CHANGES.get(item.type, Change.NONE))

    def add_log(self, stream: str, text: str) -> None:
        self.logs.append((stream, text))
        self.log_total += 1
        self.changed(Change.LOG)

    def finish(self, code: int) -> None:
        """The engine exited with `code`: settle the status, explaining an exit without a report."""
        self.exit_code, self.ended = code, self.clock()
        if self.run_status in FINAL:
            if self.run_status == "failed" and not self.traceback:
                self.traceback = self.stderr_text()
        else:
            self.run_status, _, self.error = client_exit(None, code, bool(self.client and self.client.stop_sent))
            if self.run_status == "failed":
                self.traceback = self.stderr_text() or "(the engine wrote nothing to stderr)"
        self.changed(Change.STATUS)

    def fail(self, error: str, traceback: str | None) -> None:
        """The dashboard could not drive the engine (it could not start, its reader broke)."""
        self.exit_code, self.ended = -1 if self.exit_code is None else self.exit_code, self.clock()
        self.run_status, self.error, self.traceback = "failed", error, traceback
        self.changed(Change.STATUS)

    def note_stop(self, note: str) -> None:
        """What the last stop request did, shown in the header while the run is live."""
        self.stop_note = note
        self.changed(Change.STATUS)

    def end_replay(self) -> None:
        """A replayed run has no more events: one that never reported its end is incomplete."""
        self.following = False
        self.run_status = self.run_status if self.run_status in FINAL else "incomplete"
        self.changed(Change.STATUS)

    def reopen(self) -> None:
        """How the run ends is for the engine about to run to say (not the history replayed)."""
        self.run_status, self.error, self.traceback = "", None, None

    def continued_by(self, session: "RunSession") -> None:
        """`session` continues this run (`r`): this tab follows it from now on."""
        self.resumed_as = session
        self.changed(Change.STATUS)

    def stderr_text(self) -> str:
        return "\n".join(l for l in self.stderr_tail if l.strip())

    @classmethod
    def from_events(cls, events: Iterable[Event], label: str, clock: Callable[[], float] = time.time
                    ) -> "RunSession":
        """A finished (or interrupted) run rebuilt from its recorded events."""
        s = cls(label=label, clock=clock, replay=True)
        for ev in events:
            s.feed(ev)
        s.end_replay()
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
        return self.run_status or ("starting" if not self.replay else "incomplete")

    def progress(self) -> float:
        if self.run_status == "ok":
            return 1.0
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
        if s.run_status == "ok" or layout.finished(Path(run_dir)):
            return f"{s.state.run_name or run_dir} has finished: nothing to resume"
        if s.following:
            return f"{s.state.run_name or run_dir} is running in another process"
        if not layout.resumable(Path(run_dir)):
            return f"{run_dir} has no {layout.CHECKPOINTS}/{layout.LAST} to continue from"
        holder = folder_lock.in_use(Path(run_dir)) if check_lock else None
        return str(holder) if holder is not None else None

    def tensorboard_command(self) -> str:
        return tensorboard_command(self.state.run_dir) if self.state.run_dir else ""


def resuming(previous: RunSession, clock: Callable[[], float] = time.time) -> RunSession:
    """The session that continues `previous`'s run with `--resume`: the run folder's
    events.jsonl replayed first (the whole history, whatever this dashboard saw of it), then
    the engine's events. The folder is untrusted: an unreadable history is said in the log."""
    run_dir = previous.state.run_dir
    s = RunSession(label=f"{previous.state.recipe_name or previous.label} (resumed)", args=["--resume", run_dir],
                   clock=clock)
    try:
        for ev in read_events(str(Path(run_dir) / layout.EVENTS)):
            s.feed(ev)
    except (OSError, ProtocolError) as exc:
        s.add_log("warning", f"the run's earlier events cannot be shown: {exc}")
    s.reopen()
    return s
