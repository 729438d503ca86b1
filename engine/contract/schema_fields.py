"""The recipe schema's field helper: a dataclass field carrying its validation metadata
(choices, range, doc). Standard library only."""
from __future__ import annotations

from dataclasses import field
from typing import Any

# Bounds of keys whose larger values validate as numbers but cannot run (memory, threads, seeds).
WIDTH_MAX = 65536
THREADS_MAX = 1024
SEED_MAX = 1_000_000


def _opt(*, choices: tuple | None = None, lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, doc: str = "", source: str = "") -> dict:
    return {"choices": choices, "lo": lo, "hi": hi, "lo_open": lo_open, "doc": doc, "source": source}


def spec(default: Any, **kw: Any) -> Any:
    """A dataclass field with validation metadata (choices, range), its documentation and where
    its default comes from (`source`: the paper, the released code, or a choice of ours)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=_opt(**kw))
    return field(default=default, metadata=_opt(**kw))
