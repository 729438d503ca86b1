"""What a run folder is, in one place: the files it holds, how to make a new one, how to tell a
run folder, a folder of seed runs and a sweep apart, and how to read a run's status. Standard
library only: the engine writes with it, the UI and the tools read with it. Every file read
here is untrusted: a damaged one reads as absent, never as an exception.

    runs/<recipe>/<stamp>-<seed>/       a run folder (`<stamp>-<seed>-<n>` where that is taken)
        recipe.toml   the resolved recipe          splits.json    dataset indices per split
        events.jsonl  the event stream             engine.log     the engine's log
        summary.json  status, best, test metrics   predictions.npz  test-split probabilities
        checkpoints/last.pt, best.pt               events.out.tfevents.*  TensorBoard, in the run
        run-id        the run's id (below)         folder itself (`tensorboard_dir`)
    <sweep>/sweep.json, base-recipe.toml, [<grid point>/]seed-<s>/   a sweep or a seed series:
        runs/<recipe>/sweep-<stamp>/ or seeds-<stamp>/ (`-<n>` where that is taken); a grid
        point's folder is its values, cut short, and a hash of them (lfm_tui/sweep.py)

The run id is the one thing that tells runs apart, wherever their folders are: a random
uuid4 hex written into `run-id` when the engine creates the run folder, and never changed (a
resumed run keeps it). A copied folder holds the same run (`lfm compare` counts it once); a
folder made before run ids existed has none (`read_run_id` gives None).

Writes are whole or nothing (`atomic_open`: a temporary file moved into place), and a folder is
locked while a process writes to it (`FolderLock`: `.lock`, its holder named in `.lock.owner`).
Nothing is written through a symbolic link inside a folder (`LinkRefused`): a link planted as
`events.jsonl` or `checkpoints/` could point anywhere, and the file it names stays untouched.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
import uuid
from pathlib import Path

from engine import faults, untrusted
from engine.errors import UserError

RECIPE = "recipe.toml"
SPLITS = "splits.json"
EVENTS = "events.jsonl"
LOG = "engine.log"
SUMMARY = "summary.json"
PREDICTIONS = "predictions.npz"
CHECKPOINTS = "checkpoints"
LAST, BEST = "last.pt", "best.pt"
SWEEP_PLAN = "sweep.json"
SWEEP_RECIPE = "base-recipe.toml"
LOCK, LOCK_OWNER = ".lock", ".lock.owner"
RUN_ID = "run-id"
NAME_MAX = 80  # characters of a recipe name, which names folders (engine/validation.py)


def checkpoint(run_dir: Path, name: str = LAST) -> Path:
    return Path(run_dir) / CHECKPOINTS / name


def tensorboard_dir(run_dir: Path) -> Path:
    """The folder every TensorBoard writer of a run writes into: the run folder itself, so that
    `tensorboard --logdir runs/` names the run `<recipe>/<stamp>-<seed>` (TensorBoard names a run
    after the folder holding its event files; runs made before this keep theirs in `tb/`)."""
    return Path(run_dir)


def new_folder(path: Path) -> Path:
    """`path` made now, new and empty, or `path-1`, `path-2`, ... where that exists already (a
    second command started in the same second): two callers never get the same folder."""
    path = Path(path)
    for n in range(1000):
        candidate = path if n == 0 else path.with_name(f"{path.name}-{n}")
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"{path}: could not create a new folder beside the 1000 that exist")


def stamped_name(prefix: str) -> str:
    """`<prefix>-<stamp>`, the local time to the second: how sweep and seed folders are named."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def new_run_dir(runs_dir: Path, name: str, seed: int) -> Path:
    """A new, empty `runs_dir/<name>/<stamp>-<seed>` (a suffix where that exists already)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"{name!r} cannot name a folder inside {runs_dir}")
    return new_folder(Path(runs_dir) / name / f"{stamp}-{seed}")


def new_run_id() -> str:
    return uuid.uuid4().hex


def read_run_id(run_dir: Path) -> str | None:
    """The run's id from its `run-id` file, or None where it has none (a run made before run
    ids existed) or one that is not a run id (32 hex digits)."""
    try:
        with open(Path(run_dir) / RUN_ID, "rb") as fh:
            text = fh.read(64).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if re.fullmatch(r"[0-9a-f]{32}", text) else None


def create_run_folder(path: Path | None, runs_dir: Path, name: str, seed: int,
                      files: dict[str, str]) -> tuple[Path, "FolderLock"]:
    """A new run folder, locked, holding `files` (name -> text) and a new run id (`RUN_ID`):
    `path` (new or empty) or a new folder under `runs_dir/<name>`. If a file cannot be written
    (a full disk), the folder is left as it was found (removed if it was made here) and the
    error raised."""
    made = path is None or not Path(path).exists()
    if path is None:
        path = new_run_dir(runs_dir, name, seed)
    path = Path(path)
    files = {**files, RUN_ID: new_run_id() + "\n"}
    path.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(path).acquire()
    try:
        for fname, text in files.items():
            write_atomic(path / fname, text)
    except BaseException:
        lock.release()
        for f in [*files, LOCK, LOCK_OWNER]:
            with contextlib.suppress(OSError):
                (path / f).unlink()
        if made:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    return path, lock


def is_run(path: Path) -> bool:
    """A run folder: the engine wrote its recipe and its event stream there."""
    p = Path(path)
    return (p / RECIPE).is_file() and (p / EVENTS).is_file()


def is_sweep(path: Path) -> bool:
    return (Path(path) / SWEEP_PLAN).is_file()


def read_summary(run_dir: Path) -> dict | None:
    """summary.json as a dict, or None where it is absent or unreadable (over a limit of
    engine/untrusted.py, NaN or Infinity included)."""
    try:
        data = untrusted.read_json(Path(run_dir) / SUMMARY)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def status(run_dir: Path) -> str | None:
    """The status the engine reported ('ok', 'cancelled', 'failed'), or None before it did."""
    s = read_summary(run_dir)
    value = s.get("status") if s else None
    return value if isinstance(value, str) else None


def finished(run_dir: Path) -> bool:
    return status(run_dir) == "ok"


def resumable(run_dir: Path) -> bool:
    """A run that has not finished and has a checkpoint to continue from."""
    p = Path(run_dir)
    return not finished(p) and checkpoint(p).is_file()


def run_state(run_dir: Path) -> str:
    """'done', 'resume' (a checkpoint and its recipe to continue from), 'partial' (nothing to
    continue) or 'new'."""
    p = Path(run_dir)
    if finished(p):
        return "done"
    if resumable(p) and (p / RECIPE).is_file():
        return "resume"
    return "partial" if p.exists() else "new"


def runs_below(folder: Path) -> list[Path]:
    """Every run folder at or below `folder`, sorted."""
    p = Path(folder)
    if is_run(p):
        return [p]
    return sorted({e.parent for e in p.rglob(EVENTS) if is_run(e.parent)})


def finished_runs_by_seed(folder: Path) -> dict[int, list[Path]]:
    """seed -> the finished runs below `folder` of that seed (from their summary.json)."""
    out: dict[int, list[Path]] = {}
    for run in runs_below(folder):
        s = read_summary(run)
        if s and s.get("status") == "ok" and isinstance(s.get("seed"), int) and not isinstance(s["seed"], bool):
            out.setdefault(s["seed"], []).append(run)
    return out


# ---------------------------------------------------------------------- writing

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
    engine/faults.py."""
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


def remove_temporaries(folder: Path) -> list[Path]:
    """Temporary files a killed writer left in a run folder and its checkpoints; the removed."""
    removed = []
    for d in (Path(folder), Path(folder) / CHECKPOINTS):
        for p in d.glob(".*.tmp") if d.is_dir() else ():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


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


# ---------------------------------------------------------------------- locking

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
