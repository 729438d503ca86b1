"""Bounded reading of files written by an earlier process (a run folder's JSON, an event line, a
recipe's TOML): every file read back is untrusted input, so its size and nesting are checked
before a parser sees it, and a file past a limit is refused with a ValueError that says which
limit, never a RecursionError or MemoryError. Standard library only: the UI reads with it too.

Nesting is measured by a scan of the text (strings and comments left out), without recursion,
so the check itself cannot overflow the stack. JSON's NaN and Infinity are refused where a
file never holds them (summary.json, sweep.json); the event stream may carry them (a diverged
loss) and asks for them.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any, Iterator

MAX_DEPTH = 64                    # levels of [ and { (JSON) or arrays and tables (TOML)
MAX_JSON_BYTES = 16 * 1024 ** 2   # summary.json, sweep.json, .lock.owner, a recipe file
MAX_LINE_BYTES = 16 * 1024 ** 2   # one line of events.jsonl (the dashboard's stream limit too)

# Strings and comments, whose brackets do not nest: TOML's multi-line and literal strings,
# JSON's and TOML's basic strings, TOML's comments (none of which JSON text holds outside a string).
_OPAQUE = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def nesting(text: str) -> int:
    """How deep the brackets of `text` nest (outside strings and comments), found by a scan."""
    brackets = _NOT_BRACKET.sub("", _OPAQUE.sub("", text))
    opens = sum(map(brackets.count, "[{"))
    if opens <= 1:
        return opens
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def depth_of(value: Any) -> int:
    """How deep lists and dicts nest in a parsed value (1 for a flat list), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        todo.extend((c, level + 1) for c in children)
    return deepest


def check_nesting(text: str, max_depth: int | None = None) -> None:
    """Raises ValueError where `text` nests deeper than `max_depth` (MAX_DEPTH)."""
    max_depth = max_depth or MAX_DEPTH
    if nesting(text) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"holds {name}, which is not a number this file may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"holds {text[:40]}, past the range of a number")
    return value


def loads(text: str, *, allow_nan: bool = False, max_depth: int | None = None) -> Any:
    """json.loads with the nesting checked first; NaN, Infinity and numbers past a float's
    range refused unless `allow_nan`. Raises ValueError for anything it will not return
    (json's decode errors are ValueErrors)."""
    max_depth = max_depth or MAX_DEPTH
    check_nesting(text, max_depth)
    try:
        if allow_nan:
            return json.loads(text)
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # not reached below MAX_DEPTH; kept so that no limit change can leak it
        raise ValueError(f"nested deeper than {max_depth} levels") from None


def _size_text(n: int) -> str:
    return f"{n / 1024 ** 2:g} MiB" if n >= 1024 ** 2 else f"{n} bytes"


def read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """A regular file's bytes, at most `max_bytes` of them: OSError for a file that cannot be
    read (a folder, a device, a fifo included), ValueError for one larger than the limit
    (MAX_JSON_BYTES unless given)."""
    max_bytes = max_bytes or MAX_JSON_BYTES
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"{path}: {info.st_size} bytes, larger than the {_size_text(max_bytes)} such a file may be")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path}: larger than the {_size_text(max_bytes)} such a file may be")
    return data


def read_text(path: Path, max_bytes: int | None = None) -> str:
    """A regular file's UTF-8 text, bounded as `read_bytes` (UnicodeDecodeError is a ValueError)."""
    return read_bytes(path, max_bytes).decode("utf-8")


def read_json(path: Path, *, allow_nan: bool = False, max_bytes: int | None = None,
              max_depth: int | None = None) -> Any:
    """A JSON file, bounded in size and nesting: OSError where it cannot be read, ValueError
    (naming the file) where it is over a limit or not JSON."""
    text = read_text(path, max_bytes)
    try:
        return loads(text, allow_nan=allow_nan, max_depth=max_depth)
    except ValueError as exc:
        raise ValueError(f"{Path(path).name}: {exc}") from None


def lines(fh, max_bytes: int | None = None) -> Iterator[str]:
    """The lines of a text file opened for reading, a line longer than `max_bytes` characters
    (MAX_LINE_BYTES) given as its first `max_bytes` (the rest skipped), so no line costs more
    memory than that."""
    max_bytes = max_bytes or MAX_LINE_BYTES
    while True:
        line = fh.readline(max_bytes)
        if not line:
            return
        if len(line) >= max_bytes and not line.endswith("\n"):
            while (rest := fh.readline(max_bytes)) and not rest.endswith("\n"):
                pass
        yield line


def zip_size(path: Path, max_members: int = 100_000) -> int:
    """The uncompressed size a zip file (a torch checkpoint, an .npz) declares for its members,
    from its central directory, without inflating anything. ValueError for a file that is not a
    zip or declares more than `max_members` members."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable zip archive ({exc})") from None
    if len(members) > max_members:
        raise ValueError(f"{path}: {len(members)} archive members, more than {max_members}")
    return sum(m.file_size for m in members)


def toml_loads(text: str, max_depth: int | None = None) -> dict:
    """tomllib.loads with the nesting of arrays and tables bounded, before parsing (brackets)
    and after (dotted keys): ValueError past `max_depth` (tomllib's errors are ValueErrors)."""
    import tomllib

    max_depth = max_depth or MAX_DEPTH
    check_nesting(text, max_depth)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    if depth_of(data) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    return data
