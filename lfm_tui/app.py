"""The dashboard: one factory, `make_app`, builds it for `lfm-tui`, `lfm tui` and the tests.

The App owns the engine workers (one per run, `exit_on_error=False`), so a run keeps going while
screens change; each worker feeds its RunSession, and what the session says changed is posted to
the run screen as messages (lfm_tui/run_messages.py), which draws it.
"""
from __future__ import annotations

import importlib
import time
import traceback as tb
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from lfm_tui.client import EngineClient, Launch
from lfm_tui.early_keys import HoldKeysUntilReady
from lfm_tui.recorded import RecordedRuns
from lfm_tui.run_messages import messages
from lfm_tui.screens.dialogs import ConfirmQuit, FailureDialog, HelpScreen
from lfm_tui.screens.reading import read_failed
from lfm_tui.screens.recipes import RecipesScreen
from lfm_tui.session import Change, RunSession, resuming

if TYPE_CHECKING:
    from textual.screen import Screen

    from lfm_tui.widgets.sweep_grid import SweepGrid

CommandFactory = Callable[[list[str]], Sequence[str]]
# Start-up imports the first screen only; the others (and plotext, the charts) are imported when
# first shown, or in the background once the first screen is up (LfmApp.preload).
LATER_SCREENS = {"runs": "lfm_tui.screens.run:RunScreen", "history": "lfm_tui.screens.history:HistoryScreen",
                 "sweeps": "lfm_tui.screens.sweeps:SweepScreen"}


def screen_class(spec: str) -> type[Screen]:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def later(spec: str) -> Callable[[], Screen]:
    return lambda: screen_class(spec)()


class LfmApp(RecordedRuns, HoldKeysUntilReady, App):
    CSS_PATH = "app.tcss"
    TITLE = "LFM console"
    MODES = {"recipes": RecipesScreen, **{mode: later(spec) for mode, spec in LATER_SCREENS.items()}}
    DEFAULT_MODE = "recipes"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # app.tcss fits a run into 24 rows
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "keys"),
        # one footer hint for the four screens, "1-4 screens", so that every screen's keys fit in 80 columns
        Binding("1", "switch_mode('recipes')", "screens", key_display="1-4"),
        Binding("2", "switch_mode('runs')", "runs", show=False),
        Binding("3", "switch_mode('history')", "history", show=False),
        Binding("4", "switch_mode('sweeps')", "sweeps", show=False),
    ]

    def __init__(self, recipes_dir: Path, runs_dir: Path, command: CommandFactory | None = None,
                 clock: Callable[[], float] = time.time, stop_grace: float = 30.0,
                 cursor_blink: bool = True, launch: Launch | None = None,
                 sweep_dirs: Sequence[Path] = ()) -> None:
        super().__init__()
        self.hold_keys()  # keys typed while it starts wait for the first screen (on_mount)
        self._keys_held = True
        self.sweep_dirs = [Path(p) for p in sweep_dirs]  # shown in the sweeps screen besides runs_dir's
        self.launch_spec = launch or Launch()  # processes per run (torchrun when more than one)
        self.recipes_dir, self.runs_dir = Path(recipes_dir), Path(runs_dir)
        self.command, self.clock, self.stop_grace = command, clock, stop_grace
        self.cursor_blink = cursor_blink
        self.sessions: list[RunSession] = []
        self.current: RunSession | None = None
        self._reading_note = False  # "reading RUN…" shown: cleared once read

    # ------------------------------------------------------------------ runs
    def show_session(self, session: RunSession) -> None:
        if session not in self.sessions:
            self.sessions.append(session)
            session.listener = self.session_changed
        self.current = session
        self.switch_mode("runs")
        if isinstance(self.screen, screen_class(LATER_SCREENS["runs"])):
            self.screen.show_current()

    def session_changed(self, session: RunSession, change: Change) -> None:
        """A session's listener: its change posted to the run screen (made by show_session)."""
        try:
            screen = self.get_screen_stack("runs")[0]
        except (KeyError, IndexError):  # no run screen yet: it draws the session when it mounts
            return
        for message in messages(session, change):
            screen.post_message(message)

    def launch(self, args: list[str], label: str) -> RunSession:
        """Start the engine with `args` in a new session and show it."""
        return self._start(RunSession(label=label, args=list(args), clock=self.clock))

    def _start(self, session: RunSession) -> RunSession:
        self.show_session(session)
        self.run_worker(self._drive(session), name=f"run-{session.id}", group=f"run-{session.id}",
                        exclusive=True, exit_on_error=False)
        return session

    def launch_recipe(self, path: Path, overrides: list[str]) -> RunSession:
        label = " ".join([path.stem, *overrides])
        return self.launch([str(path), *overrides, "--runs-dir", str(self.runs_dir)], label)

    async def _drive(self, session: RunSession) -> None:
        command = self.command(session.args) if self.command else None
        session.client = EngineClient(session.args, command=command, launch=self.launch_spec)
        async for item in session.client.events():
            session.feed(item)
        if session.status == "failed":
            self.push_screen(FailureDialog(session))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that raised (the engine could not start, a bug in the client): the run fails,
        the app stays. A read that raised says so."""
        if event.state != WorkerState.ERROR:
            return
        if read_failed(self, event) or not (event.worker.name or "").startswith("run-"):
            return
        session = next((s for s in self.sessions if f"run-{s.id}" == event.worker.name), None)
        if session is None:
            return
        err = event.worker.error
        if session.client is not None and session.client.running:
            self.run_worker(session.client.stop(grace=1.0, term_grace=1.0), exit_on_error=False)
        session.fail(f"{type(err).__name__}: {err}", "".join(tb.format_exception(err)) if err else None)
        self.push_screen(FailureDialog(session))

    def stop_current(self) -> None:
        s = self.current
        if s is None or not s.live or s.client is None:
            self.notify("no live run to stop", severity="warning")
            return
        sent = s.client.request_stop()
        s.note_stop({
            "SIGINT": "SIGINT sent: stopping after this step with a checkpoint (s again: SIGTERM)",
            "SIGTERM": "SIGTERM sent: terminating (s again: SIGKILL)",
            "SIGKILL": "SIGKILL sent",
        }.get(sent, ""))

    def resume_current(self) -> None:
        """`r`: the run continued from its checkpoint in a new tab that shows its whole history;
        the stopped run's tab follows it. A run that cannot continue is refused with the reason."""
        s = self.current
        problem = "no run to resume" if s is None else s.resume_refusal()
        if problem:
            self.notify(problem, severity="warning", markup=False)
            return
        previous = s.latest()
        previous.continued_by(self._start(resuming(previous, clock=self.clock)))

    def on_mount(self) -> None:
        if self.sweep_dirs:
            self.switch_mode("sweeps")
        self.call_after_refresh(self.preload)

    def first_screen_ready(self) -> None:
        """The recipes screen has its list (read in a worker): keys typed meanwhile go to it."""
        if self._keys_held:
            self._keys_held = False
            self.release_keys()

    def preload(self) -> None:
        """Once the first screen is up (and, for the recipes screen, its list read): the keys
        typed meanwhile are replayed, and the other screens are imported in a thread, so that
        the first switch to one does not wait."""
        if not isinstance(self.screen, RecipesScreen) or self.screen.listed:
            self.first_screen_ready()

        def load() -> None:
            for spec in [*LATER_SCREENS.values(), "lfm_tui.screens.compare:CompareScreen"]:
                screen_class(spec)
        self.run_worker(load, name="preload", thread=True, exit_on_error=False)

    def on_sweep_grid_run_chosen(self, event: SweepGrid.RunChosen) -> None:
        """A run of a sweep opened in the run screen: replayed when it has ended, followed
        through its run folder while it runs (whoever runs it)."""
        if event.status in ("queued", "starting"):
            self.notify(f"{event.label}: {event.status}, no events yet", severity="warning")
        elif event.status in ("running", "stalled"):
            self.follow_run(event.run_dir, event.label)
        else:
            self.open_recorded(event.run_dir)

    def compare(self, run_dirs: list[Path]) -> None:
        self.read_recorded([Path(p) for p in run_dirs], compare=True)

    # ------------------------------------------------------------------ app keys
    @property
    def live_sessions(self) -> list[RunSession]:
        return [s for s in self.sessions if s.live]

    async def action_quit(self) -> None:
        live = self.live_sessions
        if not live:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._stop_all_and_exit(), name="quit", exit_on_error=False)

        self.push_screen(ConfirmQuit(len(live)), answered)

    async def _stop_all_and_exit(self) -> None:
        for s in self.live_sessions:
            s.note_stop("stopping before quitting…")
            if s.client is not None:
                await s.client.stop(grace=self.stop_grace, term_grace=5.0)
        self.exit()

    def on_unmount(self) -> None:
        """However the app ends, no engine trains on unseen: a live one gets SIGINT (it
        checkpoints and stops by itself)."""
        for s in self.live_sessions:
            if s.client is not None:
                s.client.request_stop()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def make_app(recipes_dir: Path | str = "recipes", runs_dir: Path | str = "runs",
             command: CommandFactory | None = None, clock: Callable[[], float] = time.time,
             stop_grace: float = 30.0, cursor_blink: bool = True, launch: Launch | None = None,
             sweep_dirs: Sequence[Path | str] = ()) -> LfmApp:
    """The dashboard over `recipes_dir` and `runs_dir`. `command` maps engine arguments to a
    command line (tests run a fake engine); `clock` gives the time shown (tests freeze it);
    `sweep_dirs` (sweep folders) opens it on the sweeps screen."""
    return LfmApp(Path(recipes_dir), Path(runs_dir), command=command, clock=clock,
                  stop_grace=stop_grace, cursor_blink=cursor_blink, launch=launch,
                  sweep_dirs=[Path(p) for p in sweep_dirs])
