"""The event protocol between the engine and its clients: JSON Lines, one object a line.

Standard library only: the UI imports this module without torch.

Every event carries `v` (protocol major version), `type`, `seq` (0, 1, 2, ... within one engine
process) and `time` (Unix seconds). A reader ignores unknown types, treats non-JSON lines as log
text, and refuses an event whose major version is newer than its own. A stream is untrusted
input: an event of a known type whose required fields are missing or of the wrong type
(`check`) is never handed on as an event, but as a line of text saying what is wrong with it.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from engine.contract import untrusted
PROTOCOL_VERSION = 1

# Event type -> fields every event of that type carries (others may be added freely; e.g. an
# `eval` event of at most 50 classes carries `confusion`: head ("fused" or a modality) -> rows of
# counts, true class by predicted class, in the order of run_started's `classes`).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "run_started": ("run_id", "recipe", "recipe_name", "dataset", "modalities", "run_dir",
                    "epochs", "steps_per_epoch", "resumed_from"),
    "step": ("epoch", "step", "global_step", "losses", "alpha", "lr", "samples_per_s"),
    "eval": ("split", "epoch", "loss", "fused", "modalities", "gap", "modality_gap"),
    "alpha_updated": ("epoch", "alpha", "hypergradient", "method", "seconds"),
    "checkpoint": ("path", "epoch", "step", "best"),
    "log": ("level", "message"),
    "run_finished": ("status", "best", "test", "error", "traceback"),
}

FINISH_STATUSES = ("ok", "cancelled", "failed")


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _table(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A JSON object of text keys to values passing `check`."""
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and check(x) for k, x in v.items())


_metrics = _table(_opt(_num))

# Event type -> field -> the check its value must pass (the fields a client reads).
FIELD_TYPES: dict[str, dict[str, Callable[[Any], bool]]] = {
    "run_started": {"run_id": _str, "recipe": _table(lambda v: True), "recipe_name": _str, "dataset": _str,
                    "modalities": lambda v: isinstance(v, list) and all(map(_str, v)), "run_dir": _str,
                    "epochs": _int, "steps_per_epoch": _int, "resumed_from": _opt(_table(lambda v: True))},
    "step": {"epoch": _int, "step": _int, "global_step": _int, "losses": _table(_num), "alpha": _num,
             "lr": _num, "samples_per_s": _num},
    "eval": {"split": _str, "epoch": _int, "loss": _num, "fused": _metrics, "modalities": _table(_metrics),
             "gap": _opt(_num), "modality_gap": _opt(_num)},
    "alpha_updated": {"epoch": _int, "alpha": _num, "hypergradient": _num, "method": _str, "seconds": _num},
    "checkpoint": {"path": _str, "epoch": _int, "step": _int, "best": lambda v: isinstance(v, bool)},
    "log": {"level": _str, "message": _str},
    "run_finished": {"status": lambda v: v in FINISH_STATUSES, "best": _opt(_metrics), "test": _opt(_metrics),
                     "error": _opt(_str), "traceback": _opt(_str)},
}


def check(type_: str, data: dict) -> str | None:
    """What is wrong with an event of a known type (a missing field, a value of the wrong
    type), or None. Unknown types pass: readers skip them."""
    fields = FIELD_TYPES.get(type_, {})
    missing = [f for f in EVENT_FIELDS.get(type_, ()) if f not in data]
    if missing:
        return f"lacks {', '.join(missing)}"
    bad = [f for f, ok in fields.items() if not ok(data[f])]
    return f"wrong type of {', '.join(bad)}" if bad else None


class ProtocolError(Exception):
    """An event from a newer protocol, or one missing required fields."""


@dataclass
class Event:
    type: str
    data: dict[str, Any]
    seq: int = -1
    time: float = 0.0
    v: int = PROTOCOL_VERSION

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_json(self) -> str:
        body = {"v": self.v, "type": self.type, "seq": self.seq, "time": self.time, **self.data}
        return json.dumps(body, separators=(",", ":"), allow_nan=True)


@dataclass
class LogLine:
    """A line of the stream that is not an event: shown to the user as text."""
    text: str
    stream: str = "stdout"


def make(type_: str, **data: Any) -> Event:
    missing = [f for f in EVENT_FIELDS.get(type_, ()) if f not in data]
    if missing:
        raise ProtocolError(f"event {type_!r} lacks {', '.join(missing)}")
    if type_ == "run_finished" and data["status"] not in FINISH_STATUSES:
        raise ProtocolError(f"run_finished status {data['status']!r} is not one of {FINISH_STATUSES}")
    return Event(type_, data)


def parse_line(line: str) -> Event | LogLine | None:
    """One line of an event stream into an Event, or a LogLine for anything that is not an
    event object. Raises ProtocolError for an event of a newer major version. Unknown event
    types come back as Events too: callers skip types they do not handle."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    if len(text) >= untrusted.MAX_LINE_BYTES:
        return LogLine(f"(a line of {len(text)}+ characters, longer than any event: {text[:200]})", "stderr")
    try:
        obj = untrusted.loads(text, allow_nan=True)  # a diverged run's loss is NaN
    except ValueError as exc:
        if str(exc).startswith("nested deeper"):
            return LogLine(f"(a line {exc}: {text[:200]})", "stderr")
        return LogLine(text)
    if not isinstance(obj, dict) or "type" not in obj or "v" not in obj:
        return LogLine(text)
    v = obj.pop("v")
    if not isinstance(v, int) or isinstance(v, bool):
        return LogLine(text)
    if v > PROTOCOL_VERSION:
        raise ProtocolError(
            f"the engine speaks event protocol {v}, this client understands up to "
            f"{PROTOCOL_VERSION}: update the client (pip install -e .)")
    type_ = str(obj.pop("type"))
    seq = obj.pop("seq", -1)
    t = obj.pop("time", 0.0)
    problem = check(type_, obj)
    if problem:
        return LogLine(f"(a malformed {type_[:40]} event, {problem}: {text[:200]})", "stderr")
    return Event(type_, obj, seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else -1,
                 time=t if _num(t) else 0.0, v=v)


def read_events(path: str) -> list[Event]:
    """Every event of an events.jsonl file, skipping lines that are not well-formed events
    (bytes that are not UTF-8 read as replacement characters; a line nested too deep or longer
    than untrusted.MAX_LINE_BYTES is skipped). Raises OSError for a file that cannot be read (a
    folder included) and ProtocolError for a stream of a newer protocol."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in untrusted.lines(fh):
            item = parse_line(line)
            if isinstance(item, Event):
                out.append(item)
    return out


@dataclass
class Emitter:
    """Numbers events and writes them to every stream, each line flushed at once."""
    streams: list[TextIO] = field(default_factory=list)
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    seq: int = 0

    def emit(self, type_: str, **data: Any) -> Event:
        ev = make(type_, **data)
        ev.seq, ev.time = self.seq, round(time.time(), 3)
        self.seq += 1
        line = ev.to_json() + "\n"
        for s in list(self.streams):
            try:
                s.write(line)
                s.flush()
            except (BrokenPipeError, ValueError, OSError):
                # A client that went away must not stop training; the file copy remains.
                self.streams.remove(s)
        for listener in self.listeners:
            listener(ev)
        return ev
