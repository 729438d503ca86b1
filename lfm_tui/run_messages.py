"""The messages that tell the run screen a session changed, one class per kind of change
(lfm_tui/session.py's `Change`). Each says which session changed, and the screen draws what it
holds now; a message still waiting in the screen's queue when the next of its kind and session
arrives is replaced by it (`can_replace`), so that a burst of events is drawn once."""
from __future__ import annotations

from textual.message import Message

from lfm_tui.session import Change, RunSession


class RunChanged(Message, bubble=False):
    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session

    def can_replace(self, message: Message) -> bool:
        """The next message of the same kind about the same session supersedes this one."""
        return type(message) is type(self) and message.session is self.session  # type: ignore[attr-defined]


class Progressed(RunChanged, bubble=False):
    """Steps: the header's progress, the loss and alpha charts."""


class Evaluated(RunChanged, bubble=False):
    """Validations, checkpoints, alpha updates: the validation table and the alpha chart."""


class Logged(RunChanged, bubble=False):
    """Log lines."""


class StatusChanged(RunChanged, bubble=False):
    """How the run stands: the header and the tabs."""


MESSAGES = ((Change.STATUS, StatusChanged), (Change.PROGRESS, Progressed), (Change.EVALUATION, Evaluated),
            (Change.LOG, Logged))


def messages(session: RunSession, change: Change) -> list[RunChanged]:
    """The messages that say `change` of `session`."""
    return [cls(session) for kind, cls in MESSAGES if kind & change]
