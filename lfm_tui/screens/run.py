"""A run's panels: header, loss and alpha charts, validation table, log; tabs switch runs.

The panels are drawn when the session shown says it changed (lfm_tui/run_messages.py), each panel
handed the plain values it draws; a timer moves the header's clock only."""
from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from rich.text import Text
from textual.widgets import Footer, Tab, Tabs

from engine.contract.run_state import preparing_text
from lfm_tui.run_messages import Evaluated, Logged, Progressed, RunChanged, StatusChanged
from lfm_tui.session import RunSession
from lfm_tui.widgets.alpha_chart import AlphaChart
from lfm_tui.widgets.event_log import EventLog
from lfm_tui.widgets.loss_chart import LossChart
from lfm_tui.widgets.metrics_table import MetricsTable, validation_rows
from lfm_tui.widgets.run_header import HeaderView, RunHeader

CLOCK_S = 0.5  # how often the header's elapsed and remaining times move
PACE_S = 0.25  # steps are drawn at most this often: a fast run is drawn at this pace, not per step
MARK = {"running": "▶", "starting": "…", "stopping": "■", "ok": "✓", "cancelled": "■",
        "failed": "✗", "incomplete": "?", "resumed": "↻"}


def tab_label(n: int, s: RunSession) -> Text:
    """Text, never markup: a label holds the user's overrides and the recipe's name."""
    return Text(f"{MARK.get(s.status, '·')} {n}. {s.label}")


def header_view(session: RunSession | None) -> HeaderView | None:
    if session is None:
        return None
    s, status = session.state, session.status
    note, style = "", "yellow"
    if session.live and session.stop_note:
        note = session.stop_note
    elif status == "failed" and session.error:
        note, style = f"failed: {session.error}", "red"
    elif session.resumable():
        note = "r resumes from the checkpoint   "
    elif session.resumed_as is not None:  # its tab follows the run; the panels stay as it stopped
        note = f"resumed: the whole run is in the tab {session.latest().label}   "
    source = "" if not session.replay else "from its run folder, live" if session.following else "recorded"
    return HeaderView(
        status=status, title=s.recipe_name or session.label, dataset=s.dataset, modalities=tuple(s.modalities),
        source=source, run_name=s.run_name, live=session.live, epoch=s.epoch, epochs=s.epochs, step=s.step,
        steps_per_epoch=s.steps_per_epoch, progress=session.progress(), elapsed=session.elapsed(),
        remaining=session.remaining(), global_step=s.global_step, samples_per_s=s.samples_per_s,
        alpha=s.alpha, lr=s.lr, note=note, note_style=style,
        command=session.tensorboard_command() if s.run_dir and not session.live and status != "failed" else "",
        preparing=preparing_text(s.preparing))


class RunScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("s", "stop", "stop"),
        Binding("r", "resume", "resume"),
        Binding("left_square_bracket", "switch(-1)", "prev run"),
        Binding("right_square_bracket", "switch(1)", "next run"),
        Binding("l", "toggle_log", "log/table"),
        Binding("t", "tensorboard", "tensorboard", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._tabs: dict[int, str] = {}
        self._ready = False
        self._progress_drawn = float("-inf")  # when the steps were last drawn (time.monotonic)
        self._progress_due = False            # a draw of the steps is set for the end of the pace

    def compose(self) -> ComposeResult:
        yield Tabs(id="run-tabs")
        yield RunHeader(id="run-header")
        with Horizontal(id="charts"):
            yield LossChart(id="loss-chart")
            yield AlphaChart(id="alpha-chart")
        with Horizontal(id="bottom"):
            yield MetricsTable(id="metrics")
            yield EventLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log").border_title = "log"
        self._ready = True
        self.set_interval(CLOCK_S, self.tick_clock)
        self.show_current()

    def on_screen_resume(self) -> None:
        self.show_current()

    # ------------------------------------------------------------------ drawing
    def sync_tabs(self) -> None:
        tabs = self.query_one(Tabs)
        for n, s in enumerate(self.app.sessions, 1):
            label = tab_label(n, s)
            tid = f"run-{s.id}"
            if s.id not in self._tabs:
                try:
                    tabs.add_tab(Tab(label, id=tid))
                except NoMatches:  # the tab strip is still mounting: once it is
                    self.call_after_refresh(self.sync_tabs)
                    return
            elif self._tabs[s.id] != label:
                tabs.query_one(f"#{tid}", Tab).label = label
            self._tabs[s.id] = label
        cur = self.app.current
        if cur is not None and tabs.active != f"run-{cur.id}":
            tabs.active = f"run-{cur.id}"

    def show_current(self) -> None:
        """Every panel drawn from the session shown (another run picked, the screen shown again)."""
        if not self._ready:
            return
        self.sync_tabs()
        self.draw_header()
        self.draw_charts()
        self.draw_validation()
        self.draw_log()

    def draw_header(self) -> None:
        self.query_one(RunHeader).show(header_view(self.app.current))

    def draw_charts(self, loss: bool = True) -> None:
        s = self.app.current
        if loss:
            self.query_one(LossChart).show(s.state.losses if s else {})
        self.query_one(AlphaChart).show(s.state.alpha_by_epoch if s else {},
                                        s.state.hypergradient_by_epoch if s else {})

    def draw_validation(self) -> None:
        s = self.app.current.state if self.app.current else None
        rows = validation_rows(s.val_history, s.modalities, s.test, s.best) if s else ("validation", [])
        self.query_one(MetricsTable).show(*rows)

    def draw_log(self) -> None:
        s = self.app.current
        if s is not None:
            self.query_one(EventLog).show(s.id, s.logs, s.log_total)

    def tick_clock(self) -> None:
        s = self.app.current
        if s is not None and (s.live or s.following):
            self.query_one(RunHeader).show_clock(s.elapsed(), s.remaining())

    def shown(self, message: RunChanged) -> bool:
        """Whether `message` is about the run shown (and the panels are there to draw it)."""
        return self._ready and message.session is self.app.current

    def on_progressed(self, message: Progressed) -> None:
        """Drawn now, or once PACE_S has passed since the last draw (with all that came meanwhile)."""
        if not self.shown(message) or self._progress_due:
            return
        wait = self._progress_drawn + PACE_S - time.monotonic()
        if wait > 0:
            self._progress_due = True
            self.set_timer(wait, self.draw_progress)
        else:
            self.draw_progress()

    def draw_progress(self) -> None:
        self._progress_drawn, self._progress_due = time.monotonic(), False
        self.draw_header()
        self.draw_charts()

    def on_evaluated(self, message: Evaluated) -> None:
        if self.shown(message):
            self.draw_validation()
            self.draw_charts(loss=False)

    def on_logged(self, message: Logged) -> None:
        if self.shown(message):
            self.draw_log()

    def on_status_changed(self, message: StatusChanged) -> None:
        """A run's status shows in its tab, and in the tabs and header of the runs it continues."""
        if self._ready:
            self.sync_tabs()
            self.draw_header()

    @on(Tabs.TabActivated, "#run-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        if event.tab is None:
            return
        sid = int(str(event.tab.id).removeprefix("run-"))
        for s in self.app.sessions:
            if s.id == sid and s is not self.app.current:
                self.app.current = s
                self.show_current()

    # ------------------------------------------------------------------ keys
    def action_stop(self) -> None:
        self.app.stop_current()

    def action_resume(self) -> None:
        self.app.resume_current()

    def action_switch(self, delta: int) -> None:
        sessions = self.app.sessions
        if not sessions or self.app.current is None:
            return
        i = sessions.index(self.app.current)
        self.app.current = sessions[(i + delta) % len(sessions)]
        self.show_current()

    def action_toggle_log(self) -> None:
        self.toggle_class("-log-only")  # the log rewraps to its new width as it is resized

    def action_tensorboard(self) -> None:
        s = self.app.current
        if s and s.state.run_dir:
            self.notify(s.tensorboard_command(), title="TensorBoard", timeout=10, markup=False)
