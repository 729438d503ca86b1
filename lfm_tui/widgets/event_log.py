"""The engine's log events and its stderr, scrolling."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from lfm_tui.session import RunSession

STYLES = {"stderr": "dim", "stdout": "dim italic", "warning": "yellow", "error": "bold red"}


class EventLog(RichLog):
    def __init__(self, **kw) -> None:
        super().__init__(max_lines=2000, wrap=True, min_width=20, markup=False, highlight=False, **kw)
        self._session_id: int | None = None
        self._written = 0

    def reset(self) -> None:
        """Write everything again on the next show (lines wrap at the width they are written)."""
        self._session_id = None

    def on_resize(self) -> None:
        self.reset()

    def show(self, session: RunSession | None) -> None:
        if session is None:
            return
        if session.id != self._session_id:
            self.clear()
            self._session_id, self._written = session.id, session.log_total - len(session.logs)
        new = session.log_total - self._written
        if new <= 0:
            return
        lines = list(session.logs)[-min(new, len(session.logs)):]
        for stream, text in lines:
            prefix = "" if stream in ("info", "stdout") else f"[{stream}] "
            self.write(Text(prefix + text, style=STYLES.get(stream, "")))
        self._written = session.log_total
