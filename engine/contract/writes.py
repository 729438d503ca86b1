"""Writes that are whole or nothing, never through a symbolic link. Standard library only: the
engine, the UI and the figures write run and sweep folders with it.

`atomic_open` writes a temporary file beside the target (`temporary`), flushes it to disk and
moves it into place in one step: a failed write (a full disk, a signal) leaves the target as it
was. Nothing is written through a link (`LinkRefused`): a link planted as `events.jsonl` or
`checkpoints/` could point anywhere, and the file it names stays untouched. Test hooks at every
write point: engine/contract/faults.py.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from engine.contract import faults
from engine.contract.errors import UserError


class LinkRefused(UserError):
    """A file or folder to be written inside a run or sweep folder is a symbolic link."""

    def __init__(self, path: Path):
        self.path = Path(path)
        super().__init__(f"{path} is a symbolic link: files of a run folder are never written through a link "
                         f"(it could point outside the folder); replace it with a plain file or folder, then try again")


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def refuse_link(path: Path) -> None:
    if os.path.islink(path):
        raise LinkRefused(path)


def _nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | NOFOLLOW, 0o666)


def open_nofollow(path: Path, mode: str, **kwargs):
    """open() of `path` that never follows a link there (LinkRefused instead)."""
    try:
        return open(path, mode, opener=_nofollow, **kwargs)
    except OSError:
        if os.path.islink(path):
            raise LinkRefused(path) from None
        raise


def make_folders(folder: Path, root: Path) -> Path:
    """`folder`, inside `root`, made where absent with the folders between; a link among them is
    refused (LinkRefused), so that what is written there stays inside `root`."""
    folder, root = Path(folder), Path(root)
    rel = folder.relative_to(root)
    here = root
    for part in rel.parts:
        here = here / part
        refuse_link(here)
        here.mkdir(exist_ok=True)
        refuse_link(here)  # made as a link meanwhile
    return folder


def temporary(path: Path) -> Path:
    """Where `path` is written before it is moved into place (removed if the write fails)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_open(path: Path):
    """A binary file to write `path` through: the content lands in a temporary file beside it,
    flushed to disk, then replaces `path` in one step. If anything fails (a full disk, a
    signal), the temporary file is removed and `path` keeps what it held. Test hooks:
    engine/contract/faults.py."""
    path = Path(path)
    refuse_link(path)  # os.replace would put the file in the link's place; refused all the same
    faults.begin(path)
    tmp = temporary(path)
    try:
        with open_nofollow(tmp, "wb") as fh:
            yield fh
            faults.point("enospc", path)
            fh.flush()
            os.fsync(fh.fileno())
        faults.point("partial", path)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.filename is None:  # a failed write() names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    faults.point("after", path)


def write_atomic(path: Path, text: str) -> None:
    """`path` holds `text` (UTF-8) afterwards, or what it held before: never a part of it."""
    with atomic_open(path) as fh:
        fh.write(text.encode("utf-8"))



def open_append(path: Path):
    """`path` opened to append lines; a last line cut short by a failed write is dropped first.
    A link there is refused (LinkRefused): what it points to is neither cut nor appended to."""
    path = Path(path)
    with open_nofollow(path, "ab+") as fh:
        end = fh.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:  # back to the last newline, a block at a time
            start = max(0, pos - 65536)
            fh.seek(start)
            block = fh.read(pos - start)
            if pos == end and block.endswith(b"\n"):
                break
            cut = block.rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                break
            pos = start
        else:
            fh.truncate(0)
    return open_nofollow(path, "a", encoding="utf-8")
