"""A run's panels: header, loss and alpha charts, validation table, log; tabs switch runs."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from rich.text import Text
from textual.widgets import Footer, Tab, Tabs

from lfm_tui.session import RunSession
from lfm_tui.widgets.alpha_chart import AlphaChart
from lfm_tui.widgets.event_log import EventLog
from lfm_tui.widgets.loss_chart import LossChart
from lfm_tui.widgets.metrics_table import MetricsTable
from lfm_tui.widgets.run_header import RunHeader

REDRAW_HZ = 4
MARK = {"running": "▶", "starting": "…", "stopping": "■", "ok": "✓", "cancelled": "■",
        "failed": "✗", "incomplete": "?", "resumed": "↻"}


def tab_label(n: int, s: RunSession) -> Text:
    """Text, never markup: a label holds the user's overrides and the recipe's name."""
    return Text(f"{MARK.get(s.status, '·')} {n}. {s.label}")


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
        self._drawn: tuple[int, int] | None = None
        self._tabs: dict[int, str] = {}
        self._ready = False

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
        self.set_interval(1 / REDRAW_HZ, self.redraw)
        self.redraw()

    def on_screen_resume(self) -> None:
        self.redraw()

    # ------------------------------------------------------------------ drawing
    def sync_tabs(self) -> None:
        tabs = self.query_one(Tabs)
        for n, s in enumerate(self.app.sessions, 1):
            label = tab_label(n, s)
            tid = f"run-{s.id}"
            if s.id not in self._tabs:
                try:
                    tabs.add_tab(Tab(label, id=tid))
                except NoMatches:  # the tab strip is still mounting: next tick
                    return
            elif self._tabs[s.id] != label:
                tabs.query_one(f"#{tid}", Tab).label = label
            self._tabs[s.id] = label
        cur = self.app.current
        if cur is not None and tabs.active != f"run-{cur.id}":
            tabs.active = f"run-{cur.id}"

    def redraw(self) -> None:
        """Called a few times a second: redraw what changed since the last call."""
        if not self._ready:
            return
        session = self.app.current
        self.sync_tabs()
        self.query_one(RunHeader).show(session)
        key = (session.id, session.version) if session else None
        if key == self._drawn:
            return
        self._drawn = key
        for w in (self.query_one(LossChart), self.query_one(AlphaChart),
                  self.query_one(MetricsTable), self.query_one(EventLog)):
            w.show(session)

    @on(Tabs.TabActivated, "#run-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        if event.tab is None:
            return
        sid = int(str(event.tab.id).removeprefix("run-"))
        for s in self.app.sessions:
            if s.id == sid and s is not self.app.current:
                self.app.current = s
                self.redraw()

    # ------------------------------------------------------------------ keys
    def action_stop(self) -> None:
        self.app.stop_current()
        self.redraw()

    def action_resume(self) -> None:
        self.app.resume_current()

    def action_switch(self, delta: int) -> None:
        sessions = self.app.sessions
        if not sessions or self.app.current is None:
            return
        i = sessions.index(self.app.current)
        self.app.current = sessions[(i + delta) % len(sessions)]
        self.redraw()

    def action_toggle_log(self) -> None:
        self.toggle_class("-log-only")
        self._drawn = None  # the log rewraps to its new width on the next tick

    def action_tensorboard(self) -> None:
        s = self.app.current
        if s and s.state.run_dir:
            self.notify(s.tensorboard_command(), title="TensorBoard", timeout=10, markup=False)
