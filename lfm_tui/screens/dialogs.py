"""Modal dialogs: a run's failure with its traceback, quitting with a live run, the keys."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from lfm_tui.session import RunSession


class FailureDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "close")]

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        s = self.session
        with Vertical(id="failure", classes="dialog"):
            yield Static(Text(f"run failed: {s.label}", style="bold red"), classes="dialog-title")
            yield Static(Text(s.error or "unknown error"), id="failure-error")
            with VerticalScroll(id="failure-trace"):
                yield Static(Text(s.traceback or "(no traceback)", style="dim"))
            yield Static(Text(f"exit status {s.exit_code}" if s.exit_code is not None else "",
                              style="dim"))
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]

    def __init__(self, live: int) -> None:
        super().__init__()
        self.live = live

    def compose(self) -> ComposeResult:
        runs = "a run is" if self.live == 1 else f"{self.live} runs are"
        with Vertical(id="confirm", classes="dialog"):
            yield Static(Text(f"{runs} still training.", style="bold"), classes="dialog-title")
            yield Static("Quit stops it (SIGINT: it checkpoints and can be resumed). Quit? [y/n]")
            with Horizontal(classes="buttons"):
                yield Button("Stop and quit", id="yes", variant="error")
                yield Button("Cancel", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


KEYS = [
    ("everywhere", [("1 / 2 / 3 / 4", "recipes / runs / history / sweeps"), ("?", "this help"),
                    ("q", "quit (asks first while a run is live)")]),
    ("recipes", [("up / down", "pick a recipe"), ("o, tab", "type key=value overrides"),
                 ("enter", "launch (when the overrides are valid)"), ("escape", "back to the list")]),
    ("runs", [("s", "stop: SIGINT (checkpoint, then cancelled); again: SIGTERM, then SIGKILL"),
              ("r", "resume a stopped run from its last checkpoint"), ("[ / ]", "previous / next run"),
              ("l", "log in place of the table"), ("t", "TensorBoard command of the run")]),
    ("history", [("enter", "open the run: replayed, or followed live while it runs; on a sweep: expand / collapse"),
                 ("space", "mark for comparison (on a sweep: all its runs)"), ("c", "compare the marked runs"),
                 ("/", "filter: words or key=value (recipe, method, status, #tag, note, folder); escape clears"),
                 ("s", "sort by the next column (or click a heading)"), ("t / n", "edit the run's tags / note"),
                 ("f5", "reload")]),
    ("sweeps", [("up / down", "pick a sweep, then a run (tab switches)"),
                ("enter", "open the run: replayed if it ended, followed live if it runs"), ("f5", "reload")]),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "close")]

    def compose(self) -> ComposeResult:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold cyan", justify="right")
        t.add_column()
        for section, keys in KEYS:
            t.add_row(Text(section, style="bold underline"), "")
            for k, what in keys:
                t.add_row(k, what)
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(Text("keys (up / down scroll, escape closes)", style="bold"),
                         classes="dialog-title")
            yield Static(t)

    def action_close(self) -> None:
        self.dismiss(None)
