"""A screen's notices said in a line of its own, under its table, instead of toasts: a toast sits
over the bottom right of the screen, where a filter box or the hint under a table is, and at 80
columns it covers them. The line is shown only while it has something to say, as the recipes
screen says a refusal under its overrides box."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

STYLE = {"information": ("", ""), "warning": ("⚠ ", "bold yellow"), "error": ("✗ ", "bold red")}


@dataclass
class Notice(Message):
    """A notice for the status line (posted: `notify` may be called from any thread)."""
    text: Text
    severity: str


class StatusLine:
    """A Screen mixin: `notify` (Textual's, which the screen's own code and the app's reads call)
    says the notice in the Static `#<STATUS_ID>` the screen composes, hidden while empty, and
    rings the bell for a warning or an error; `say` and `clear_notice` set and clear it, and
    `notice_about` names what the notice said is about ("" for a notice of `notify`)."""
    STATUS_ID = "status-line"
    notice_about = ""

    def status_widget(self) -> Static:
        line = Static(id=self.STATUS_ID, classes="status-line")
        line.display = False
        return line

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        text = Text.from_markup(message) if markup else Text(message)
        self.post_message(Notice(Text(f"{title}: ") + text if title else text, severity))  # type: ignore[attr-defined]

    def on_notice(self, message: Notice) -> None:
        self.say(message.text, message.severity)

    def say(self, text: Text | str, severity: str = "information", bell: bool = True, about: str = "") -> None:
        mark, style = STYLE.get(severity, STYLE["information"])
        self.notice_about = about
        line = self.query_one(f"#{self.STATUS_ID}", Static)  # type: ignore[attr-defined]
        line.update(Text(mark, style=style) + (text if isinstance(text, Text) else Text(text)))
        line.display = True
        if bell and severity != "information":
            self.app.bell()  # type: ignore[attr-defined]

    def clear_notice(self) -> None:
        line = self.query_one(f"#{self.STATUS_ID}", Static)  # type: ignore[attr-defined]
        line.update("")
        line.display = False
        self.notice_about = ""

    @property
    def notice(self) -> str:
        """What the status line says now ("" when hidden)."""
        line = self.query_one(f"#{self.STATUS_ID}", Static)  # type: ignore[attr-defined]
        return str(line.render()) if line.display else ""
