"""The lock a process holds while it writes to a run or sweep folder: `.lock` (filelock's flock,
released by the system if the process dies), its holder named in `.lock.owner`. Standard library
and filelock only: the engine locks a run folder with it, the UI a sweep folder, and both ask
whether a folder is in use.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from engine.contract import untrusted
from engine.contract.writes import LinkRefused, refuse_link, write_atomic

LOCK, LOCK_OWNER = ".lock", ".lock.owner"


class FolderInUse(Exception):
    """Another process holds the folder's lock."""

    def __init__(self, folder: Path, owner: dict):
        self.folder, self.owner = Path(folder), owner
        pid = owner.get("pid")
        who = f"process {pid}" if isinstance(pid, int) else "another process"
        host = owner.get("host")
        where = f" on {host}" if isinstance(host, str) and host != socket.gethostname() else ""
        super().__init__(f"{folder} is in use by {who}{where}; wait for it to end or stop it, then try again")


class FolderLock:
    """The lock a process holds while it writes to a run or sweep folder (filelock's flock:
    released by the system if the process dies); `.lock.owner` names the holder."""

    def __init__(self, folder: Path):
        from filelock import FileLock

        self.folder = Path(folder)
        self._lock = FileLock(str(self.folder / LOCK), timeout=0)

    def acquire(self) -> "FolderLock":
        from filelock import Timeout

        refuse_link(self.folder / LOCK)  # filelock opens it to write, through a link too
        try:
            self._lock.acquire()
        except Timeout:
            raise FolderInUse(self.folder, lock_owner(self.folder)) from None
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            write_atomic(self.folder / LOCK_OWNER, json.dumps(owner) + "\n")
        except LinkRefused:
            self._lock.release()
            raise
        except OSError:
            pass  # the lock holds without its note
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                (self.folder / LOCK_OWNER).unlink()
            self._lock.release()

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def lock_owner(folder: Path) -> dict:
    """What `.lock.owner` says of the folder's holder ({} where it says nothing readable)."""
    try:
        data = untrusted.read_json(Path(folder) / LOCK_OWNER, max_bytes=4096)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def in_use(folder: Path) -> FolderInUse | None:
    """The holder of the folder's lock, if a process holds it now (checked, not waited for)."""
    p = Path(folder)
    if not (p / LOCK).exists():
        return None
    try:
        FolderLock(p).acquire().release()
    except FolderInUse as exc:
        return exc
    except (OSError, LinkRefused):
        return None
    return None


def held(folder: Path) -> bool:
    """Whether a live process holds the folder's lock, asked without taking it (a reader that
    took it even for a moment could make the engine starting then refuse the folder): its
    holder's note names a process of this machine that is alive, or another machine, whose
    lock is then probed (`in_use`). No note: not held (the holder writes it once it holds the
    lock, and removes it before it lets go)."""
    owner = lock_owner(folder)
    pid, host = owner.get("pid"), owner.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if isinstance(host, str) and host != socket.gethostname():
        return in_use(folder) is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True
