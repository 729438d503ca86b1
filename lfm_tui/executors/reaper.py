"""What `lfm` started ends with `lfm`, even when `lfm` is killed with SIGKILL: a Ray instance
started here (raylet, GCS, and the agents and workers they start, which otherwise notice the
loss only a minute or two later). Linux (/proc); elsewhere it does nothing.

A small watcher process (`Reaper.start`) notes, twice a second, every process descended from
`lfm` (pid and start time, so that a reused pid is never taken for one of them). `stop()`
ends it quietly (`lfm` closing the instance itself); if `lfm` dies instead, the watcher's
stdin reaches its end without a word, and every noted process still alive gets SIGTERM, then
SIGKILL after a grace period.
"""
from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SCAN_S = 0.5   # how often the watcher notes lfm's descendants
GRACE_S = 5.0  # from SIGTERM to SIGKILL of what is left
DONE = b"done\n"
PROC = Path("/proc")


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process now (from /proc)."""
    out = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 19 and fields[0] != "Z":
            out[int(entry.name)] = (int(fields[1]), fields[19])
    return out


def descendants(root: int, table: dict[int, tuple[int, str]]) -> dict[int, str]:
    """pid -> start time of every process below `root` in `table`."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid not in out:
            out[pid] = table[pid][1]
            todo += children.get(pid, ())
    return out


def end(noted: dict[int, str], grace: float = GRACE_S) -> None:
    """SIGTERM to every noted process still alive (the same start time), SIGKILL after `grace`."""
    def alive() -> list[int]:
        now = processes()
        return [pid for pid, start in noted.items() if pid in now and now[pid][1] == start and pid != os.getpid()]

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        for pid in alive():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while wait and alive() and time.monotonic() < deadline:
            time.sleep(0.1)


def watch(parent: int) -> int:
    """The watcher's loop: note `parent`'s descendants until its word (quiet exit) or its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is lfm's to handle
    noted: dict[int, str] = {}
    while True:
        ready, _, _ = select.select([0], [], [], SCAN_S)
        if ready:
            data = os.read(0, 64)
            if data.startswith(DONE):
                return 0
            if not data:  # lfm is gone without a word
                end(noted)
                return 0
        table = processes()
        noted = {p: s for p, s in noted.items() if p in table and table[p][1] == s}
        noted.update(descendants(parent, table))
        noted.pop(os.getpid(), None)


class Reaper:
    """The watcher of this process's descendants (see the module's docstring)."""

    def __init__(self, proc: subprocess.Popen | None):
        self.proc = proc

    @classmethod
    def start(cls) -> "Reaper":
        if not PROC.is_dir():
            return cls(None)
        proc = subprocess.Popen([sys.executable, "-m", __name__, str(os.getpid())], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return cls(proc)

    def stop(self) -> None:
        """The watcher ends, leaving every process as it is."""
        if self.proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.write(DONE)
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1])))
