"""How a run ended, in one table: the engine's exit statuses, the `run_finished` status each
maps to, and what a client says of an exit the engine did not report. Standard library only:
the engine decides with it, the UI reads with it.

    0   finished ("ok")
    1   failed: a bug or a resource problem, reported with its traceback
    2   bad input: recipe, override, run folder, checkpoint, data; one message, no traceback
    130 stopped (SIGINT: the current step ends, `last.pt` is written; "cancelled")
"""
from __future__ import annotations

from dataclasses import dataclass

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130

STATUS_EXIT = {"ok": EXIT_OK, "cancelled": EXIT_CANCELLED, "failed": EXIT_FAILED}


@dataclass
class Outcome:
    """What a run came to: `status` as in run_finished; `user_error` when the failure is the
    user's input (exit 2), else a failure is a bug or a resource problem (exit 1)."""
    status: str = "ok"
    error: str | None = None
    traceback: str | None = None
    user_error: bool = False

    @property
    def exit_code(self) -> int:
        if self.status == "failed" and self.user_error:
            return EXIT_USAGE
        return STATUS_EXIT[self.status]


def unreported_exit(code: int, stop_sent: bool = False) -> tuple[str, str]:
    """(status, explanation) of an engine that exited with `code` without a run_finished event."""
    if code < 0 and stop_sent:
        return "cancelled", f"terminated by signal {-code} before the engine could report"
    if code == EXIT_OK:
        return "failed", "the engine exited without reporting a result (run_finished)"
    if code == EXIT_USAGE:
        return "failed", "the engine refused its input (exit status 2)"
    return "failed", f"the engine exited with status {code} before reporting a result"


def exit_for_status(status: str, code: int) -> int:
    """The status `lfm` exits with: a stopped run is 130 whatever torchrun reported for the world."""
    return EXIT_CANCELLED if status == "cancelled" else code
