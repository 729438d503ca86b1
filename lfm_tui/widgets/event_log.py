"""The engine's log events and its stderr, scrolling."""
from __future__ import annotations

from typing import Hashable, Sequence

from rich.text import Text
from textual.widgets import RichLog

STYLES = {"stderr": "dim", "stdout": "dim italic", "warning": "yellow", "error": "bold red"}


class EventLog(RichLog):
    def __init__(self, **kw) -> None:
        super().__init__(max_lines=2000, wrap=True, min_width=20, markup=False, highlight=False, **kw)
        self._source: Hashable = None
        self._written = 0
        self._lines: Sequence[tuple[str, str]] = ()

    def on_resize(self) -> None:
        """Lines wrap at the width they are written: all of them written again at the new one."""
        if self._source is not None:
            self.show(self._source, self._lines, self._written, rewrite=True)

    def show(self, source: Hashable, lines: Sequence[tuple[str, str]], total: int, rewrite: bool = False) -> None:
        """`lines`: the last (stream, text) lines of `source` (a run), of `total` ever written;
        the lines of the same source not written yet are added."""
        if source != self._source or rewrite:
            self.clear()
            self._source, self._written = source, total - len(lines)
        self._lines = tuple(lines)
        new = total - self._written
        if new <= 0:
            return
        for stream, text in self._lines[-min(new, len(self._lines)):]:
            prefix = "" if stream in ("info", "stdout") else f"[{stream}] "
            self.write(Text(prefix + text, style=STYLES.get(stream, "")))
        self._written = total
