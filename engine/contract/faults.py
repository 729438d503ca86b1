"""Fault injection for tests: the environment variable LFM_FAULT makes the engine die, or a
write fail for lack of space, at a named write point, so tests can check that whatever instant
a process dies at, or whichever write fails, nothing already written is damaged and `--resume`
gives the uninterrupted numbers. Unset (always, outside tests), every call here is a no-op.
Standard library only.

    LFM_FAULT="WHEN:FILE[@N][,...]"     e.g. LFM_FAULT=after:last.pt@2

FILE is a file's name in the run folder (`last.pt`, `best.pt`, `summary.json`, `recipe.toml`,
`predictions.npz`, ...); N the how-manieth write of it in this process (every one if omitted).
WHEN is one of
    before   the process is killed (SIGKILL) before the file is written
    partial  killed with the temporary file written but not yet moved into place
    after    killed right after the file is in place
    enospc   the write fails with "No space left on device" (OSError ENOSPC) once the
             temporary file holds data
"""
from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

ENV = "LFM_FAULT"
WHEN = ("before", "partial", "after", "enospc")

_writes: dict[str, int] = {}


def _rules() -> list[tuple[str, str, int | None]]:
    out = []
    for item in os.environ.get(ENV, "").split(","):
        when, _, rest = item.strip().partition(":")
        name, _, nth = rest.partition("@")
        if when in WHEN and name:
            out.append((when, name, int(nth) if nth.isdigit() else None))
    return out


def begin(path: Path) -> None:
    """A write of `path` starts: counted (for `@N`), and the `before` fault."""
    if ENV not in os.environ:
        return
    _writes[path.name] = _writes.get(path.name, 0) + 1
    point("before", path)


def point(when: str, path: Path) -> None:
    """Act on a rule for `when` of the current write of `path`, if LFM_FAULT holds one."""
    if ENV not in os.environ:
        return
    n = _writes.get(path.name, 0)
    for w, target, nth in _rules():
        if w == when and target == path.name and (nth is None or nth == n):
            if when == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            os.kill(os.getpid(), signal.SIGKILL)
