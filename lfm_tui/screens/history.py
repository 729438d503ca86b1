"""History: the runs under the runs folder, each with its method, alpha strategy, the overrides
that set it apart, best validation and test ACC and how long it ran; Enter replays one, space
marks runs to compare."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from engine.contract.outcome import tensorboard_command
from lfm_tui.history import RunInfo, RunListing, scan_runs
from lfm_tui.screens.reading import ReadsInWorkers
from lfm_tui.widgets.run_header import clock_text

OVERRIDES_WIDTH = 24  # characters of the overrides column; the hint line shows them whole
STATUS_STYLE = {"ok": "cyan", "cancelled": "yellow", "failed": "red", "incomplete": "yellow"}


def status_style(status: str) -> str:
    return "red" if status.startswith("unreadable") else STATUS_STYLE.get(status, "")


def short_overrides(text: str) -> str:
    """`train.epochs=4 optim.lr=0.01` as `epochs=4 lr=0.01` (the last part of each key, where
    that names one key), cut to the column's width."""
    pairs = [p.partition("=") for p in text.split()]
    tails = [k.rsplit(".", 1)[-1] for k, _, _ in pairs]
    out = " ".join(f"{t if tails.count(t) == 1 else k}={v}" for t, (k, _, v) in zip(tails, pairs))
    return out if len(out) <= OVERRIDES_WIDTH else out[:OVERRIDES_WIDTH - 1] + "…"


def _acc(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


@dataclass
class RunsRead(Message):
    """The runs folder read (in a worker): the listing to show."""
    listing: RunListing


class HistoryScreen(ReadsInWorkers, Screen):
    BINDINGS = [
        Binding("enter", "open", "open", priority=True),
        Binding("space", "mark", "mark"),
        Binding("c", "compare", "compare marked"),
        Binding("f5", "reload", "reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunInfo] = []
        self.marked: set[str] = set()
        self.left_out = 0
        self.reading = False

    def compose(self) -> ComposeResult:
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="history-hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(" ", "date", "recipe", "status", "method", "alpha", "overrides", "val ACC",
                          "test ACC", "time", "epochs")
        self.query_one("#history-hint").styles.height = 2
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        """The runs folder read again in a worker (the screen answers keys meanwhile)."""
        self.reading = True
        self.query_one(DataTable).border_title = Text(f"runs in {self.app.runs_dir} (reading…)")
        self.show_hint()
        self._read_runs()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history-read")
    def _read_runs(self) -> None:
        listing = scan_runs(self.app.runs_dir, self.app.recipes_dir)
        if not get_current_worker().is_cancelled:
            self.post_message(RunsRead(listing))

    def on_runs_read(self, message: RunsRead) -> None:
        self.show_runs(message.listing)

    def show_runs(self, listing: RunListing) -> None:
        self.runs, self.left_out, self.reading = listing.runs, listing.left_out, False
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for r in self.runs:  # folder names and file contents are text, never markup
            over = short_overrides(r.overrides)
            table.add_row("●" if str(r.path) in self.marked else " ", Text(r.date), Text(r.recipe),
                          Text(r.status, style=status_style(r.status)), Text(r.method), Text(r.alpha),
                          Text(over), _acc(r.best_acc), _acc(r.test_acc),
                          "" if r.seconds is None else clock_text(r.seconds),
                          "" if r.epochs_done is None else str(r.epochs_done), key=str(r.path))
        more = f", {self.left_out} older not listed" if self.left_out else ""
        table.border_title = Text(f"runs in {self.app.runs_dir} ({len(self.runs)}{more})")
        if self.runs:
            table.move_cursor(row=min(row, len(self.runs) - 1))
        self.show_hint()

    @property
    def highlighted(self) -> RunInfo | None:
        row = self.query_one(DataTable).cursor_row
        return self.runs[row] if self.runs and 0 <= row < len(self.runs) else None

    def show_hint(self) -> None:
        r = self.highlighted
        t = Text()
        if r is None and self.reading:
            t.append(f"reading {self.app.runs_dir}…", style="dim")
        elif r is None:
            t.append(f"no runs in {self.app.runs_dir} yet", style="dim")
        else:
            t.append(r.run_id, style="bold")
            t.append(f"  {r.overrides or 'no overrides'}\n")
            t.append("TensorBoard: ", style="bold")
            t.append(tensorboard_command(r.path))
            t.append(f"    {len(self.marked)} marked", style="dim")
        self.query_one("#history-hint", Static).update(t)

    @on(DataTable.RowHighlighted)
    def _moved(self) -> None:
        self.show_hint()

    def action_open(self) -> None:
        r = self.highlighted
        if r is not None and r.status.startswith("unreadable"):
            self.notify(f"{r.path}: {r.status}", severity="error", markup=False)
        elif r is not None:
            self.app.open_recorded(r.path)

    def action_mark(self) -> None:
        r = self.highlighted
        if r is None:
            return
        key = str(r.path)
        self.marked.symmetric_difference_update({key})
        self.query_one(DataTable).update_cell(key, self.query_one(DataTable).ordered_columns[0].key,
                                              "●" if key in self.marked else " ")
        self.show_hint()

    def action_compare(self) -> None:
        paths = [r.path for r in self.runs if str(r.path) in self.marked]
        if len(paths) < 2:
            self.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.app.compare(paths)

    def action_reload(self) -> None:
        self.reload()
