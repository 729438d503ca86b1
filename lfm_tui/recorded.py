"""Recorded runs in the dashboard: a run folder's events.jsonl replayed into the run panels, or
several side by side, read in a worker (its files are untrusted and may be large), the screen
told by a message when they are read. A mixin of the App (lfm_tui/app.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.message import Message

from engine.contract.events import ProtocolError
from lfm_tui import limits
from lfm_tui.session import RunSession

READING_NOTE_S = 0.3  # a recorded run still being read after this long says so


@dataclass
class RecordedRead(Message):
    """Run folders' events read (in a worker): their sessions, and a line for each that could
    not be read; `compare` puts them side by side, else the first is shown."""
    sessions: list[RunSession]
    problems: list[str]
    compare: bool
    marks: list[str] | None = None  # each session's tags and note, one line



class RecordedRuns:
    """open_recorded / read_recorded / follow_run for the App; `self` is the LfmApp (clock, notify,
    screens)."""
    _reading_note = False

    def open_recorded(self, run_dir: Path | str) -> None:
        """Replay a run folder's events.jsonl into the run panels (read in a worker)."""
        self.read_recorded([Path(run_dir)], compare=False)

    def follow_run(self, run_dir: Path, label: str | None = None) -> None:
        """A run another process executes, shown as it goes: its run folder's events read as
        they are appended (lfm_tui/follow.py), until it ends."""
        from lfm_tui.follow import follow, following_session

        run_dir = Path(run_dir)
        session = following_session(label or f"{run_dir.parent.name}/{run_dir.name}", self.clock)
        self.show_session(session)
        self.run_worker(follow(session, run_dir), name=f"follow-{session.id}", exit_on_error=False)

    def read_recorded(self, run_dirs: list[Path], compare: bool) -> None:
        worker = self._read_recorded(run_dirs, compare)
        what = str(run_dirs[0]) if len(run_dirs) == 1 else f"{len(run_dirs)} runs"

        def still_reading() -> None:
            if not worker.is_finished:
                self._reading_note = True  # said by the screen: a history's in its status line
                self.screen.notify(f"reading {what}…", timeout=60, markup=False)
        self.set_timer(READING_NOTE_S, still_reading)

    @work(thread=True, exit_on_error=False, group="recorded-read")
    def _read_recorded(self, run_dirs: list[Path], compare: bool) -> None:
        """Each run folder's events.jsonl as a session: its files are untrusted, so a bad one is
        a line in `problems` and the rest goes on; past limits.REPLAY_MAX_BYTES it is cut, and says so."""
        from lfm_tui.history import recorded_events  # imported here: not needed to start

        if compare:
            from lfm_tui.comparable import refusal
            from lfm_tui.compare import recipe_config

            configs = [(p, recipe_config(p)) for p in run_dirs]
            problem = refusal([(p, c) for p, c in configs if c])  # a run without its recipe cannot tell
            if problem:
                self.post_message(RecordedRead([], [problem], compare))
                return
        from engine.contract import annotations

        sessions, problems, marks = [], [], []
        for run_dir in run_dirs:
            try:
                events, cut = recorded_events(run_dir)
            except (OSError, ProtocolError) as exc:
                problems.append(f"{run_dir}: unreadable: {exc}")
                continue
            session = RunSession.from_events(events, label=f"{run_dir.parent.name}/{run_dir.name}",
                                             clock=self.clock)
            if cut:
                session.add_log("warning", f"{run_dir / 'events.jsonl'}: cut after its first "
                                           f"{limits.REPLAY_MAX_BYTES / 1024 ** 2:.4g} MiB (the most a replay "
                                           f"reads); the events after it are not shown")
            sessions.append(session)
            marks.append(annotations.text(annotations.read(run_dir)))
        self.post_message(RecordedRead(sessions, problems, compare, marks))

    def on_recorded_read(self, message: RecordedRead) -> None:
        if self._reading_note:
            self._reading_note = False
            self.clear_notifications()
            getattr(self.screen, "clear_notice", lambda: None)()
        if message.compare and message.sessions:
            from lfm_tui.screens.compare import CompareScreen

            self.push_screen(CompareScreen(message.sessions, message.marks))
        elif message.sessions:
            self.show_session(message.sessions[0])
        for problem in message.problems:  # said on the screen shown now (the history: in its status line)
            self.screen.notify(problem, severity="error", markup=False)

