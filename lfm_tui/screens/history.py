"""History: every run under the runs folder (lfm_tui/run_index.py), the runs of a sweep or seed
series under its row (enter expands or collapses it), each with its status (`running` while a
process executes it), seed, method, alpha strategy, the overrides that set it apart, best
validation and test ACC, how long it ran, its tags and note. Enter opens a run (replayed, or
followed live while it runs), space marks runs to compare, `/` filters, `s` or a click on a
heading sorts, `t` and `n` edit a run's tags and note."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from engine.contract.outcome import tensorboard_command
from lfm_tui.history import RunInfo
from lfm_tui.run_index import Group, RunIndex, filtered, scan, sorted_by
from lfm_tui.screens.history_rows import (COLUMNS, NARROW, SORTABLE, Annotating, at_most, compare_notice, marks,
                                          table_rows, tensorboard_line)
from lfm_tui.screens.reading import ReadsInWorkers
from lfm_tui.screens.status_line import StatusLine
from lfm_tui.widgets.fit import fit


@dataclass
class RunsRead(Message):
    """The runs folder read (in a worker): the index to show."""
    index: RunIndex


class HistoryScreen(StatusLine, Annotating, ReadsInWorkers, Screen):
    """Its notices are said in a line under the table (and the filter box), never over them."""
    STATUS_ID = "history-status"
    BINDINGS = [
        Binding("enter", "open", "open", priority=True),
        Binding("space", "mark", "mark", key_display="␣"),  # the footer's keys fit in 80 columns
        Binding("c", "compare", "compare"),
        Binding("slash", "filter", "filter"),
        Binding("s", "sort", "sort"),
        Binding("t", "tags", "tag"),
        Binding("n", "note", "note"),
        Binding("escape", "clear_filter", "clear filter", show=False),
        Binding("f5", "reload", "reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index = RunIndex([], 0)
        self.rows: list[RunInfo | Group] = []   # what each table row shows
        self.marked: set[str] = set()
        self.expanded: set[str] = set()
        self.query_text = ""
        self.sort_column, self.descending = "date", True
        self.reading = False

    @property
    def runs(self) -> list[RunInfo]:
        """Every run listed (within their groups too), after the filter."""
        return self.shown_index().runs

    def compose(self) -> ComposeResult:
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield self.status_widget()
        yield Static(id="history-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def on_resize(self) -> None:
        if not self.reading:  # (a read under way shows its rows, fitted, when it ends)
            self.show_rows()  # the columns fitted to the new width

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
        index = scan(self.app.runs_dir, self.app.recipes_dir)
        if not get_current_worker().is_cancelled:
            self.post_message(RunsRead(index))

    def on_runs_read(self, message: RunsRead) -> None:
        self.index, self.reading = message.index, False
        self.show_rows()

    def shown_index(self) -> RunIndex:
        index = filtered(self.index, self.query_text) if self.query_text else self.index
        return sorted_by(index, self.sort_column, self.descending)

    def show_rows(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        index = self.shown_index()
        self.rows, keys, cells = table_rows(index, self.expanded, self.marked, bool(self.query_text))
        # a scroll bar's two cells left out of the width the columns share (size: inside the border)
        columns, headings, cells = fit(COLUMNS, cells, table.size.width - 2, NARROW)
        table.clear(columns=True)
        for name, heading in zip(columns, headings):
            table.add_column(heading, key=name)
        for key, row_cells in zip(keys, cells):
            table.add_row(*row_cells, key=key)
        n, more = len(index.runs), ""
        if self.query_text:
            more += f" of {len(self.index.runs)}, matching {self.query_text!r}"
        if index.left_out:
            more += f", {index.left_out} older not listed"
        if index.walk_cut:
            more += ", more folders than the walk looks into"
        order = "" if self.sort_column == "date" and self.descending else \
            f", by {self.sort_column} {'↓' if self.descending else '↑'}"
        table.border_title = Text(f"runs in {self.app.runs_dir} ({n}{more}{order})")
        if self.rows:
            table.move_cursor(row=min(row, len(self.rows) - 1))
        self.show_hint()

    @property
    def highlighted(self) -> RunInfo | Group | None:
        row = self.query_one(DataTable).cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    def show_hint(self) -> None:
        r = self.highlighted
        t = Text()
        if r is None:
            t.append(f"reading {self.app.runs_dir}…" if self.reading else
                     f"no runs in {self.app.runs_dir}{' match' if self.query_text else ' yet'}", style="dim")
        elif isinstance(r, Group):
            t.append(f"{r.kind} {self.app.runs_dir / r.name}", style="bold")
            t.append(f"  {len(r.runs)} runs: enter {'collapses' if r.name in self.expanded else 'expands'}, "
                     f"space marks them all")
        else:  # at most two rows of the run's overrides and marks, so that the third stays in view
            width = self.query_one("#history-hint", Static).content_size.width or self.size.width - 2
            t.append(str(r.path) if r.group else r.run_id, style="bold")
            t.append(f"  {r.overrides or 'no overrides'}  {marks(r)}")
            t = at_most(t, width, 2, self.app.console)
            t.append("\n")
            t.append_text(tensorboard_line(tensorboard_command(r.path), len(self.marked), width))
        self.query_one("#history-hint", Static).update(t)

    @on(DataTable.RowHighlighted)
    def _moved(self) -> None:
        self.show_hint()

    @on(DataTable.HeaderSelected)
    def _heading(self, event: DataTable.HeaderSelected) -> None:
        name = str(event.column_key.value)
        if name in SORTABLE:
            self.sort(name, not self.descending if name == self.sort_column else True)

    def sort(self, column: str, descending: bool) -> None:
        self.sort_column, self.descending = column, descending
        self.show_rows()

    def action_sort(self) -> None:
        """The next sortable column, largest (newest) first."""
        self.sort(SORTABLE[(SORTABLE.index(self.sort_column) + 1) % len(SORTABLE)], True)

    def action_open(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(DataTable).focus()  # the filter kept
            return
        r = self.highlighted
        if isinstance(r, Group):
            self.expanded.symmetric_difference_update({r.name})
            self.show_rows()
        elif r is not None and r.status.startswith("unreadable"):
            self.notify(f"{r.path}: {r.status}", severity="error", markup=False)
        elif r is not None and r.status == "running":
            self.app.follow_run(r.path)
        elif r is not None:
            self.app.open_recorded(r.path)

    def action_mark(self) -> None:
        r = self.highlighted
        if r is None:
            return
        keys = {str(x.path) for x in r.runs} if isinstance(r, Group) else {str(r.path)}
        if keys <= self.marked:
            self.marked -= keys
        else:
            self.marked |= keys
        if self.notice_about == "compare":  # `c` with fewer than two marked: the notice follows the marks
            enough = len(self.marked) >= 2
            self.say(compare_notice(len(self.marked)), "information" if enough else "warning", False, "compare")
        self.show_rows()

    def action_compare(self) -> None:
        paths = [r.path for r in self.index.runs if str(r.path) in self.marked]
        if len(paths) < 2:
            self.say(compare_notice(len(paths)), "warning", about="compare")
            return
        self.clear_notice()
        self.app.compare(paths)

    def action_filter(self) -> None:
        """The filter box (made the first time, below the table)."""
        boxes = self.query("#history-filter")
        if boxes:
            box = boxes.first(Input)
            box.display = True
        else:
            box = Input(placeholder="filter: words or key=value (recipe, method, status, #tag, note, folder)",
                        id="history-filter")
            self.mount(box, after=self.query_one(DataTable))
        box.focus()

    @on(Input.Changed, "#history-filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip()
        if self.notice_about != "compare":  # a notice of what was there before the filter changed
            self.clear_notice()
        self.show_rows()

    def action_clear_filter(self) -> None:
        for box in self.query("#history-filter").results(Input):
            box.value, box.display = "", False
        self.query_text = ""
        self.query_one(DataTable).focus()
        self.show_rows()

    def action_reload(self) -> None:
        self.reload()
