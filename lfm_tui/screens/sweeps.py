"""Sweeps: the sweep folders under the runs folder (and any given with `lfm tui --sweep`); the
highlighted one's grid with each run's status, progress and best metric, read live from its
run folders whichever executor runs them. Enter opens a run in the run screen: a finished one
replayed, a running one followed through its event file (the grid's `RunChosen` message goes
to the app, which owns the run sessions)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker

from lfm_tui import sweep as sweeps
from lfm_tui.screens.reading import ReadsInWorkers
from lfm_tui.sweep_status import RunRow, SweepStatus, counts, find_sweeps
from lfm_tui.widgets.sweep_grid import SweepGrid

REFRESH_S = 1.0


def middle_cut(name: str, width: int) -> str:
    """`name` within `width` characters, its middle left out (`…`): a sweep's recipe and the time
    stamp of its folder both stay in view."""
    if width <= 0 or len(name) <= width:
        return name
    head = (width - 1) // 2
    return name[:head] + "…" + name[len(name) - (width - 1 - head):]


@dataclass
class SweepsFound(Message):
    """The sweep folders found (in a worker)."""
    folders: list[Path]


@dataclass
class SweepRead(Message):
    """A sweep folder read (in a worker): its status and rows at `now`, or why it is not one."""
    folder: Path
    status: SweepStatus | None
    rows: list[RunRow]
    now: float
    problem: str = ""


class SweepScreen(ReadsInWorkers, Screen):
    BINDINGS = [Binding("f5", "reload", "reload")]

    def __init__(self) -> None:
        super().__init__()
        self.folders: list[Path] = []
        self.current: Path | None = None
        self.reader: Worker | None = None  # the read in progress, if any

    def compose(self) -> ComposeResult:
        with Horizontal(id="sweeps-body"):
            yield DataTable(id="sweeps-list", cursor_type="row")
            yield SweepGrid(clock=self.app.clock, id="sweep-grid")
        yield Static(id="sweep-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sweeps-list", DataTable).add_columns("sweep", "runs")
        self.reload()
        self.set_interval(REFRESH_S, self.tick)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        """The sweep folders again, looked for in a worker; the one shown stays shown."""
        self.query_one("#sweeps-list", DataTable).border_title = "sweeps (reading…)"
        self._find()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweeps-read")
    def _find(self) -> None:
        extra = [Path(p) for p in getattr(self.app, "sweep_dirs", []) if Path(p).is_dir()]
        self.post_message(SweepsFound(list(dict.fromkeys([*extra, *find_sweeps(self.app.runs_dir)]))))

    def on_sweeps_found(self, message: SweepsFound) -> None:
        self.folders = message.folders
        table = self.query_one("#sweeps-list", DataTable)
        table.clear()
        room = table.size.width - 10  # less the runs column (`12/12`), padding and a scroll bar
        for f in self.folders:
            table.add_row(middle_cut(f"{f.parent.name}/{f.name}", room), "", key=str(f))
        table.border_title = f"sweeps ({len(self.folders)})"
        if self.folders:
            keep = self.folders.index(self.current) if self.current in self.folders else 0
            table.move_cursor(row=keep)
            self.select(self.folders[keep])
        else:
            self.select(None)

    def select(self, folder: Path | None) -> None:
        grid = self.query_one(SweepGrid)
        if folder is not None and folder == self.current and grid.status is not None:
            return
        self.current = folder
        if folder is None:
            grid.show(None)
        else:
            grid.show(None, title=f"reading {folder.name}…")
            self.reader = self._read(folder, None)
        self.show_hint()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-read")
    def _read(self, folder: Path, status: SweepStatus | None) -> None:
        """The sweep's plan (when `status` is None) and what its run folders gained since."""
        now = self.app.clock()
        try:
            status = status or SweepStatus(folder)
        except sweeps.SweepError as exc:
            self.post_message(SweepRead(folder, None, [], now, str(exc)))
            return
        self.post_message(SweepRead(folder, status, status.refresh(now), now))

    def on_sweep_read(self, message: SweepRead) -> None:
        if message.folder != self.current:
            return  # another sweep was chosen meanwhile
        grid = self.query_one(SweepGrid)
        if message.problem:
            self.notify(message.problem, severity="error")
            grid.show(None)
        elif grid.status is message.status:
            grid.show_rows(message.rows, message.now)
        else:
            grid.show(message.status, message.rows, message.now)
        self.show_hint()

    def tick(self) -> None:
        """Every REFRESH_S: what the shown sweep's run folders gained, read in a worker (one
        read of a sweep at a time)."""
        status = self.query_one(SweepGrid).status
        if status is not None and (self.reader is None or self.reader.is_finished):
            self.reader = self._read(status.folder, status)

    def show_hint(self) -> None:
        grid = self.query_one(SweepGrid)
        hint = "no sweep under " + str(self.app.runs_dir) + " yet (lfm sweep RECIPE --grid KEY=V1,V2)"
        if grid.status is not None:
            hint = (f"enter: open the highlighted run   tab: sweeps / runs   "
                    f"lfm sweep --status {grid.status.folder}")
            table = self.query_one("#sweeps-list", DataTable)
            if self.current is not None and str(self.current) in table.rows:
                done = counts(grid.rows_now)
                table.update_cell(str(self.current), table.ordered_columns[1].key,
                                  f"{done.get('ok', 0)}/{len(grid.rows_now)}")
        self.query_one("#sweep-hint", Static).update(hint)

    @on(DataTable.RowHighlighted, "#sweeps-list")
    def _sweep_moved(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self.select(Path(event.row_key.value))

    def action_reload(self) -> None:
        self.reload()
