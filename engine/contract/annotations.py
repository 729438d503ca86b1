"""A run's tags and note, written by the user after (or while) the run goes: `notes.json` in the
run folder, `{"tags": [...], "note": "..."}`. Standard library only: `lfm tag` and `lfm note`
and the dashboard write it, the history, `lfm runs`, `lfm compare` and the engine's TensorBoard
writer read it.

Written whole or not at all, never through a link (engine/contract/writes.py). Read back as
untrusted: bounded in size, a tag that is not one (too long, blank, with spaces or control
characters) left out, a note cut to its limit; a file that cannot be read reads as no tags and
no note.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import untrusted
from engine.contract.errors import UserError
from engine.contract.writes import write_atomic

NOTES = "notes.json"
MAX_BYTES = 64 * 1024     # of notes.json
TAG_MAX = 40              # characters of a tag
TAGS_MAX = 32             # tags of a run
NOTE_MAX = 4000           # characters of a note
TAG = re.compile(r"[^\s\x00-\x1f\x7f,]{1,%d}" % TAG_MAX)  # no spaces, commas or control characters


@dataclass
class Annotations:
    tags: list[str] = field(default_factory=list)
    note: str = ""


def is_tag(text: str) -> bool:
    return isinstance(text, str) and TAG.fullmatch(text) is not None


def read(run_dir: Path) -> Annotations:
    """The run's tags and note (none where the file is absent or cannot be read)."""
    try:
        data = untrusted.read_json(Path(run_dir) / NOTES, max_bytes=MAX_BYTES, max_depth=4)
    except (OSError, ValueError):
        return Annotations()
    if not isinstance(data, dict):
        return Annotations()
    tags = data.get("tags")
    tags = list(dict.fromkeys(t for t in tags if is_tag(t)))[:TAGS_MAX] if isinstance(tags, list) else []
    note = data.get("note")
    note = note[:NOTE_MAX] if isinstance(note, str) else ""
    return Annotations(tags, note)


def _write(run_dir: Path, notes: Annotations) -> None:
    write_atomic(Path(run_dir) / NOTES, json.dumps({"tags": notes.tags, "note": notes.note}, ensure_ascii=False,
                                                   indent=1) + "\n")


def _check_folder(run_dir: Path) -> Path:
    from engine.contract.layout import EVENTS

    p = Path(run_dir)
    if not (p / EVENTS).is_file():
        raise UserError(f"{p}: not a run folder (it has no {EVENTS})")
    return p


def tag(run_dir: Path, add: list[str] = (), remove: list[str] = ()) -> Annotations:
    """The run's tags with `add` added and `remove` removed, written; UserError for a tag that
    is not one or past the number a run may have (nothing written then)."""
    bad = [t for t in [*add, *remove] if not is_tag(t)]
    if bad:
        raise UserError(f"{bad[0]!r} is not a tag: a tag is 1 to {TAG_MAX} characters without spaces, "
                        f"commas or control characters")
    p = _check_folder(run_dir)
    notes = read(p)
    tags = [t for t in dict.fromkeys([*notes.tags, *add]) if t not in set(remove)]
    if len(tags) > TAGS_MAX:
        raise UserError(f"{p}: a run has at most {TAGS_MAX} tags ({len(tags)} asked for)")
    notes.tags = tags
    _write(p, notes)
    return notes


def set_note(run_dir: Path, text: str) -> Annotations:
    """The run's note replaced by `text` (empty: no note), written; UserError past NOTE_MAX."""
    if len(text) > NOTE_MAX:
        raise UserError(f"a note is at most {NOTE_MAX} characters ({len(text)} given)")
    p = _check_folder(run_dir)
    notes = read(p)
    notes.note = text.strip()
    _write(p, notes)
    return notes


def text(notes: Annotations) -> str:
    """One line: `#tag #tag  note` (empty where neither)."""
    note = " ".join(notes.note.split())
    return "  ".join(x for x in (" ".join(f"#{t}" for t in notes.tags), note) if x)
