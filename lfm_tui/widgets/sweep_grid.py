"""A sweep's runs as a table: the grid values and seed of each, its status, epoch, progress,
best validation ACC, test ACC and when its events last changed; Enter posts `RunChosen`."""
from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from lfm_tui.sweep_status import RunRow, SweepStatus, age_text, counts
from lfm_tui.widgets.fit import Step, fit, shortened
from lfm_tui.widgets.run_header import bar

STYLE = {"ok": "cyan", "running": "bold green", "starting": "green", "cancelled": "yellow", "stalled": "yellow",
         "failed": "red", "unreadable": "red", "queued": "dim"}
COLUMNS = ("seed", "status", "epoch", "progress", "best val ACC", "test ACC", "updated")
VALUE_WIDTH = 12  # a grid value shortened to this in a narrow grid


def percent(cell: str) -> str:
    """`██████▊     68%` as `68%`."""
    return cell.split()[-1] if cell else cell


def short_key(key: str) -> str:
    """A grid key's heading in a narrow grid: `optim.lr` as `lr`, `method.name` as `method`."""
    parts = key.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def narrow(keys: list[str]) -> tuple[Step, ...]:
    """A narrow grid (80 columns): what goes first, so that each run's grid values, status, best
    val ACC and test ACC stay whole."""
    return (("updated", None, None), ("progress", percent, "done"), ("best val ACC", str, "val ACC"),
            ("epoch", None, None), *((k, shortened(VALUE_WIDTH), short_key(k)) for k in keys),
            ("done", None, None), ("seed", None, None))


class SweepGrid(DataTable):
    """Shows one SweepStatus and its rows, read elsewhere (the sweeps screen reads them in a
    worker: `SweepStatus.refresh` reads what the run folders gained since)."""

    class RunChosen(Message):
        """Enter on a run: its planned folder and its status now."""

        def __init__(self, run_dir: Path, status: str, label: str) -> None:
            super().__init__()
            self.run_dir, self.status, self.label = run_dir, status, label

    def __init__(self, clock=time.time, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.clock = clock
        self.status: SweepStatus | None = None
        self.rows_now: list[RunRow] = []

    def show(self, status: SweepStatus | None, rows: list[RunRow] = (), now: float | None = None,
             title: str = "no sweep") -> None:
        self.status = status
        self.clear(columns=True)
        self.rows_now = []
        if status is None:
            self.border_title, self.border_subtitle = title, ""
            return
        self.show_rows(list(rows), now)

    def on_resize(self) -> None:
        if self.status is not None:
            self.show_rows(self.rows_now)  # the columns fitted to the new width

    def show_rows(self, rows: list[RunRow], now: float | None = None) -> None:
        """The rows drawn: the cells of the rows already there updated (the cursor stays),
        the table built again when the columns that fit its width change."""
        if self.status is None:
            return
        now = self.clock() if now is None else now
        keys = [k for k, _ in self.status.grid]
        cells = [[*(r.point.values.get(k, "") for k in keys), *self._cells(r, now)] for r in rows]
        # a scroll bar's two cells left out of the width the columns share (size: inside the border)
        columns, headings, cells = fit([*keys, *COLUMNS], cells, self.size.width - 2, narrow(keys))
        cursor = None
        if columns != [str(c.key.value) for c in self.ordered_columns]:
            cursor = self.cursor_row
            self.clear(columns=True)
            self.rows_now = []
            for name, heading in zip(columns, headings):
                self.add_column(heading, key=name)
        for i, (r, row_cells) in enumerate(zip(rows, cells)):
            key = str(r.run_dir)
            if i < len(self.rows_now):
                for col, value in zip(self.ordered_columns, row_cells):
                    self.update_cell(key, col.key, value, update_width=True)
            else:
                self.add_row(*row_cells, key=key)
        self.rows_now = rows
        if cursor is not None:
            self.move_cursor(row=cursor)
        summary = ", ".join(f"{n} {s}" for s, n in counts(rows).items())
        self.border_title = f"{self.status.name}: {len(rows)} runs ({summary})"
        self.border_subtitle = str(self.status.folder)

    @staticmethod
    def _cells(r: RunRow, now: float) -> list:
        p = r.progress
        return [str(r.point.seed), Text(r.status, style=STYLE.get(r.status, "")),
                f"{p.epoch}/{p.epochs}" if p.epochs else "",
                f"{bar(p.progress, 10)} {100 * p.progress:3.0f}%" if p.epochs else "",
                "" if p.best_acc is None else f"{p.best_acc:.2f}",
                "" if p.test_acc is None else f"{p.test_acc:.2f}", age_text(r.updated, now)]

    @property
    def highlighted(self) -> RunRow | None:
        row = self.cursor_row
        return self.rows_now[row] if 0 <= row < len(self.rows_now) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        r = self.highlighted
        if r is not None:
            self.post_message(self.RunChosen(r.run_dir, r.status, r.label))
