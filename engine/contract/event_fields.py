"""What a reader checks of an event, derived from its dataclass (engine/contract/events.py): a
field without a default is required, one declared with `optional` may be absent, and each value
must be of its annotated type. Standard library only.

The annotations understood: str, int, float (an int passes; bool passes neither), bool, Any,
`X | None`, Literal[...] of text, list[X] and dict[str, X].
"""
from __future__ import annotations

import dataclasses
import functools
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union, get_args, get_origin, get_type_hints

Metrics = dict[str, float | None]   # metric name -> value; null where it is not defined
Check = Callable[[Any], bool]
ENVELOPE_DOCS = {
    "v": "the protocol's major version (1): a reader refuses a newer one",
    "type": "the event's type, one of the sections below; a reader skips a type it does not know",
    "seq": "0, 1, 2, ... within one engine process (a resumed run starts again at 0)",
    "time": "when it was written, Unix seconds (three decimals)",
}


class ProtocolError(Exception):
    """An event from a newer protocol, or one missing required fields."""


def required(doc: str) -> Any:
    """A field every event of its type carries (its value may be null where its type says so)."""
    return field(metadata={"doc": doc})


def optional(doc: str) -> Any:
    """A field an event may leave out; absent reads as None, and None is not written."""
    return field(default=None, metadata={"doc": doc, "optional": True})


@dataclass(kw_only=True)
class Envelope:
    """What every event carries besides its type's fields."""
    seq: int = -1
    time: float = 0.0
    v: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


ENVELOPE_FIELDS = frozenset(f.name for f in dataclasses.fields(Envelope))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


SIMPLE: dict[Any, Check] = {
    str: lambda v: isinstance(v, str), int: _integer, float: _number,
    bool: lambda v: isinstance(v, bool), type(None): lambda v: v is None, Any: lambda v: True,
}


def checker(tp: Any) -> Check:
    """The check a value of annotation `tp` must pass (TypeError for an annotation not understood)."""
    if tp in SIMPLE:
        return SIMPLE[tp]
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        parts = [checker(a) for a in args]
        return lambda v: any(ok(v) for ok in parts)
    if origin is Literal:
        return lambda v: isinstance(v, str) and v in args
    if origin is list:
        item = checker(args[0])
        return lambda v: isinstance(v, list) and all(map(item, v))
    if origin is dict and args and args[0] is str:
        value = checker(args[1])
        return lambda v: isinstance(v, dict) and all(isinstance(k, str) and value(x) for k, x in v.items())
    raise TypeError(f"an event field cannot be of type {tp!r}")


def type_text(tp: Any) -> str:
    """An annotation as docs/events.md writes it (Metrics by its name)."""
    if tp == Metrics:
        return "Metrics"
    if tp in SIMPLE:
        return "any" if tp is Any else "null" if tp is type(None) else tp.__name__
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin is Literal:
        return " | ".join(f'"{a}"' for a in args)
    return f"{origin.__name__}[{', '.join(type_text(a) for a in args)}]"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    annotation: Any
    required: bool
    doc: str
    check: Check


@functools.cache
def specs(cls: type) -> tuple[FieldSpec, ...]:
    """An event class's own fields (the envelope left out), in their order."""
    hints = get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return tuple(FieldSpec(f.name, hints[f.name], not f.metadata.get("optional", False), f.metadata.get("doc", ""),
                           checker(hints[f.name]))
                 for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS)


@functools.cache
def payload_names(cls: type) -> tuple[tuple[str, bool], ...]:
    """(name, required) of an event class's own fields."""
    return tuple((s.name, s.required) for s in specs(cls))


def problem(cls: type, data: dict) -> str | None:
    """What is wrong with the wire fields `data` of an event of class `cls` (a missing field, a
    value of the wrong type), naming the fields, or None."""
    fields = specs(cls)
    missing = [s.name for s in fields if s.required and s.name not in data]
    if missing:
        return f"lacks {', '.join(missing)}"
    bad = [s.name for s in fields if s.name in data and not s.check(data[s.name])]
    return f"wrong type of {', '.join(bad)}" if bad else None


__all__ = ["Metrics", "ProtocolError", "Envelope", "required", "optional", "checker", "type_text", "specs",
           "payload_names", "problem", "ENVELOPE_DOCS"]
