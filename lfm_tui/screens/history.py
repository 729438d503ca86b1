"""History: the runs under the runs folder; Enter replays one, space marks runs to compare."""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from engine.outcome import tensorboard_command
from lfm_tui.history import RunInfo, list_runs

STATUS_STYLE = {"ok": "cyan", "cancelled": "yellow", "failed": "red", "incomplete": "yellow"}


def status_style(status: str) -> str:
    return "red" if status.startswith("unreadable") else STATUS_STYLE.get(status, "")


class HistoryScreen(Screen):
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

    def compose(self) -> ComposeResult:
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="history-hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(" ", "run", "recipe", "status", "date", "best ACC", "epochs")
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.runs = list_runs(self.app.runs_dir)
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for r in self.runs:  # folder names and file contents are text, never markup
            table.add_row("●" if str(r.path) in self.marked else " ", Text(r.run_id), Text(r.recipe),
                          Text(r.status, style=status_style(r.status)), Text(r.date),
                          "" if r.best_acc is None else f"{r.best_acc:.2f}",
                          "" if r.epochs_done is None else str(r.epochs_done), key=str(r.path))
        table.border_title = Text(f"runs in {self.app.runs_dir} ({len(self.runs)})")
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
        if r is None:
            t.append(f"no runs in {self.app.runs_dir} yet", style="dim")
        else:
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
