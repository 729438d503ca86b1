"""A sweep's runs as a table: the grid values and seed of each, its status, epoch, progress,
best validation ACC, test ACC and when its events last changed; Enter posts `RunChosen`."""
from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from lfm_tui.sweep_status import RunRow, SweepStatus, age_text, counts
from lfm_tui.widgets.run_header import bar

STYLE = {"ok": "cyan", "running": "bold green", "starting": "green", "cancelled": "yellow", "stalled": "yellow",
         "failed": "red", "unreadable": "red", "queued": "dim"}
COLUMNS = ("seed", "status", "epoch", "progress", "best val ACC", "test ACC", "updated")


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
        self.add_columns(*(k for k, _ in status.grid), *COLUMNS)
        self.show_rows(list(rows), now)

    def show_rows(self, rows: list[RunRow], now: float | None = None) -> None:
        if self.status is None:
            return
        now = self.clock() if now is None else now
        keys = [k for k, _ in self.status.grid]
        for i, r in enumerate(rows):
            cells = [*(r.point.values.get(k, "") for k in keys), *self._cells(r, now)]
            key = str(r.run_dir)
            if i < len(self.rows_now):
                for col, value in zip(self.ordered_columns[len(keys):], cells[len(keys):]):
                    self.update_cell(key, col.key, value)
            else:
                self.add_row(*cells, key=key)
        self.rows_now = rows
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
