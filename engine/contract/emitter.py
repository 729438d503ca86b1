"""The writer of an event stream (engine/contract/events.py): numbers and times each event and
writes it to the engine's stdout and the run folder's events.jsonl. Standard library only."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TextIO

from engine.contract.event_fields import ProtocolError, problem
from engine.contract.events import EVENT_TYPES, Event, UnknownEvent


@dataclass
class Emitter:
    """Numbers events and writes them to every stream, then to every file, each line flushed at
    once. A stream that went away (a client's pipe) is dropped; a file (the run folder's
    events.jsonl) that cannot be written raises OSError naming it (a full disk stops the run)."""
    streams: list[TextIO] = field(default_factory=list)
    files: list[TextIO] = field(default_factory=list)
    seq: int = 0

    def emit(self, ev: Event) -> Event:
        """Writes `ev` numbered and timed, and returns that copy of it; ProtocolError naming a
        field of it that is missing or of the wrong type (nothing is written then)."""
        if not isinstance(ev, Event) or isinstance(ev, UnknownEvent) or type(ev) not in EVENT_TYPES.values():
            raise ProtocolError(f"not an event of the protocol: {ev!r:.100}")
        wrong = problem(type(ev), ev.data)
        if wrong:
            raise ProtocolError(f"event {ev.type!r} {wrong}")
        ev = dataclasses.replace(ev, seq=self.seq, time=round(time.time(), 3))
        self.seq += 1
        line = ev.to_json() + "\n"
        for s in list(self.streams):
            try:
                s.write(line)
                s.flush()
            except (BrokenPipeError, ValueError, OSError):
                # A client that went away must not stop training; the file copy remains.
                self.streams.remove(s)
        for f in self.files:
            try:
                f.write(line)
                f.flush()
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, getattr(f, "name", None)) from exc
        return ev
