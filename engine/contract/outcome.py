"""How a run ended, in one table: the engine's exit statuses, the `run_finished` status each
maps to, what a client says of an exit the engine did not report, and the commands it prints
to continue. Standard library only: the engine decides with it, the UI reads with it.

    0   finished ("ok")
    1   failed: a bug (reported with its traceback) or a resource problem such as a full disk
        (one message: what could not be written, and how to continue)
    2   bad input: recipe, override, run folder, checkpoint, data, a folder in use by another
        process; one message, no traceback
    130 stopped (SIGINT: the current step ends, `last.pt` is written; SIGTERM: at once, from the
        last checkpoint; "cancelled")

Every way a run can end maps to one of these: a client reports a run by the engine's own
`run_finished` first, and only where there is none by how the process ended (`client_exit`).

What is printed of a path or a name read from disk goes through `shown` (and commands to paste
through `command`): a folder named with escape codes or a newline cannot draw on the terminal
or fake a line of output.
"""
from __future__ import annotations

import errno
import os
import re
import shlex
import signal
from dataclasses import dataclass
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130

STATUS_EXIT = {"ok": EXIT_OK, "cancelled": EXIT_CANCELLED, "failed": EXIT_FAILED}

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


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


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escaped(m: re.Match) -> str:
    return repr(m.group())[1:-1]  # \n, \t, \x1b, ...


def shown(text: object) -> str:
    """A path or a name as printed: its control characters (escape codes, newlines) written as
    escapes (`\x1b`, `\n`), everything else as it is."""
    return CONTROL.sub(_escaped, str(text))


def _word(word: str) -> str:
    if not CONTROL.search(word):
        return shlex.quote(word)
    return "$'" + CONTROL.sub(_escaped, word.replace("\\", "\\\\").replace("'", "\\'")) + "'"  # bash's $'...'


def command(*words: str | Path) -> str:
    """A command line to print for the user to paste: every word quoted as a shell needs (one
    with control characters as bash's $'...', its escapes written out)."""
    return " ".join(_word(str(w)) for w in words)


def exit_text(code: int) -> str:
    """How a process ended, in words: 'exit status N', or 'killed by signal 9 (SIGKILL)' for
    the negative code of a process a signal ended."""
    if code >= 0:
        return f"exit status {code}"
    try:
        return f"killed by signal {-code} ({signal.Signals(-code).name})"
    except ValueError:
        return f"killed by signal {-code}"


def resume_command(run_dir: str | Path) -> str:
    return command("lfm", "run", "--resume", run_dir)


def tensorboard_command(path: str | Path) -> str:
    return command("lfm", "tensorboard", path)


def sweep_resume_command(folder: str | Path) -> str:
    return command("lfm", "sweep", "--resume", folder)


def write_failure(exc: OSError, run_dir: str | Path | None, resume: str | None = None) -> str:
    """The one message for a file the engine (or a sweep) could not write (a full disk, a
    quota, a read-only or vanished folder): which file, why, and how to continue (`resume`: the
    command that continues it, else `lfm run --resume run_dir` where there is a run_dir)."""
    what = exc.filename or "a file of the run"
    resume = resume or (resume_command(run_dir) if run_dir else None)
    if exc.errno in DISK_FULL:
        head = f"no space left on the device while writing {what}"
        advice = "free some space, then continue the run with: " + resume if resume else \
            "free some space and start again"
    else:
        head = f"could not write {what}: {exc.strerror or exc}"
        advice = "fix that, then continue the run with: " + resume if resume else \
            "fix that and start again"
    return f"{head}; what was already written is intact; {advice}"


def is_write_failure(exc: OSError, *folders: str | Path | None) -> bool:
    """A full disk or quota wherever it struck, or a failed write of a file under `folders`."""
    if exc.errno in DISK_FULL:
        return True
    if not isinstance(exc.filename, str):
        return False
    name = Path(os.path.abspath(exc.filename))
    return any(name.is_relative_to(os.path.abspath(f)) for f in folders if f)


def client_exit(reported: dict | None, code: int, stop_sent: bool = False) -> tuple[str, int, str | None]:
    """(status, exit status of `lfm`, note) of an engine process (or a torchrun world) that
    exited with `code` after reporting `reported` (its run_finished event's data, or None).
    What the engine reported comes first: a world whose rank aborted while tearing down after a
    reported finish is still a finished run."""
    if reported is not None and reported.get("status") in STATUS_EXIT:
        status = reported["status"]
        exit_code = reported.get("exit_code")
        allowed = (EXIT_FAILED, EXIT_USAGE) if status == "failed" else (STATUS_EXIT[status],)
        if isinstance(exit_code, bool) or exit_code not in allowed:
            exit_code = STATUS_EXIT[status]
        note = None
        if code not in (exit_code, EXIT_OK) and status == "ok":
            note = f"the engine reported a finished run; a process then exited with status {code} while closing"
        return status, exit_code, note
    if code == EXIT_USAGE:
        return "failed", EXIT_USAGE, "the engine refused its input (exit status 2)"
    if code == EXIT_CANCELLED:
        return "cancelled", EXIT_CANCELLED, "stopped before the run started"
    if code < 0 or code > 128:
        signum = -code if code < 0 else code - 128
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        if stop_sent or signum == signal.SIGINT:
            return "cancelled", EXIT_CANCELLED, f"ended by {name} before the engine could report"
        return "failed", EXIT_FAILED, f"the engine was killed by {name} before it could report a result"
    if code == EXIT_OK:
        return "failed", EXIT_FAILED, "the engine exited without reporting a result (run_finished)"
    if stop_sent:
        return "cancelled", EXIT_CANCELLED, f"the engine exited with status {code} while stopping"
    return "failed", EXIT_FAILED, f"the engine exited with status {code} before reporting a result"


def unreported_exit(code: int, stop_sent: bool = False) -> tuple[str, str]:
    """(status, explanation) of an engine that exited with `code` without a run_finished event."""
    status, _, note = client_exit(None, code, stop_sent)
    return status, note or ""
