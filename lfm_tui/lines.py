"""`lfm run` as lines for a log file (stdout not a terminal, `--log-format plain|json`): the run
folder at the start, one line per epoch (its validation and training summary), a progress line
at a steady interval within an epoch, the engine's log; never a carriage return, a control code
or a line cut to a width."""
from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import TextIO

from engine.contract import gaps
from engine.contract.events import Eval, Event, Log, LogLine, Preparing, RunFinished, RunStarted, Step
from engine.contract.progress import interval
from engine.contract.run_state import RunState, preparing_text

CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """A line as it would end up on a terminal: the last of its carriage-return frames (tqdm's),
    without escape sequences or other control characters."""
    return CONTROL.sub("", text.rstrip("\r\n").rsplit("\r", 1)[-1])


def emit(stream: TextIO, line: str) -> None:
    """Writes and flushes one line. A reader that went away (`lfm run | head`, a closed log
    pipe) does not stop the run: the stream is pointed at /dev/null and the run goes on."""
    try:
        stream.write(line + "\n")
        stream.flush()
    except BrokenPipeError:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except (OSError, ValueError):  # not a file descriptor: nothing more to do
            pass


def _num(v, fmt: str = ".2f") -> str:
    return format(v, fmt) if isinstance(v, (int, float)) and not isinstance(v, bool) else "-"


def hms(seconds: float) -> str:
    """H:MM:SS."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class PlainView:
    """Plain text lines on `out` (the engine's stderr text on `err`); `quiet`: none during the
    run, only the summary that follows it."""

    def __init__(self, out: TextIO, quiet: bool = False, err: TextIO | None = None,
                 every: float | None = None):
        self.out, self.err, self.quiet = out, err or sys.stderr, quiet
        self.state = RunState()
        self.every = interval() if every is None else every
        self.started = self.last_progress = time.monotonic()
        self.held: tuple[int, str, str] | None = None  # an epoch's validation line: (epoch, line, elapsed)

    def write(self, line: str, stream: TextIO | None = None) -> None:
        emit(stream or self.out, line)

    def notice(self, text: str) -> None:
        """What `lfm` itself says during the run (a stop was asked for): always shown."""
        self.write(text)

    def handle(self, item) -> None:
        if isinstance(item, Event):
            self.state.apply(item)
        if self.quiet:
            return
        if self.held is not None:
            if self._epoch_summary(item):
                return
            if not (isinstance(item, Event) and item.type == "alpha_updated"):
                self.flush()
        if isinstance(item, LogLine):
            text = clean(item.text)
            if text.strip():
                self.write(text, self.err if item.stream == "stderr" else self.out)
            return
        if not isinstance(item, Event):
            return
        line = self.line(item)
        if line:
            self.write(line)

    def _epoch_summary(self, item) -> bool:
        """The engine's summary of the held epoch (its training losses, what the method reports),
        put on that epoch's validation line: one line per epoch."""
        held = self.held
        if not (isinstance(item, Log) and item.epoch == held[0] and item.level == "info"):
            return False
        text = item.message.removeprefix(f"epoch {held[0]}: ")
        self.held = None
        self.write(f"{held[1]}; {text}, elapsed {held[2]}")
        return True

    def flush(self) -> None:
        """The held validation line written as it is (no summary of its epoch came)."""
        if self.held is not None:
            _, line, elapsed = self.held
            self.held = None
            self.write(f"{line}, elapsed {elapsed}")

    def line(self, ev: Event) -> str | None:
        s = self.state
        if isinstance(ev, RunStarted):
            resumed = ev.resumed_from
            at = f", resumed at epoch {resumed.get('epoch')}" if isinstance(resumed, dict) else ""
            return (f"run started: {s.recipe_name} ({s.dataset}: {' + '.join(s.modalities)}), {s.epochs} epochs of "
                    f"{s.steps_per_epoch} steps{at}; run folder {s.run_dir}")
        if isinstance(ev, Preparing):   # its start, its end, and at the progress lines' interval
            now = time.monotonic()
            if 0 < ev.done != ev.total and now - self.last_progress < self.every:
                return None
            self.last_progress = now
            return preparing_text(s.preparing)
        if isinstance(ev, Step):
            now = time.monotonic()
            if now - self.last_progress < self.every:
                return None
            self.last_progress = now
            losses = " ".join(f"{k} {_num(v, '.4f')}" for k, v in s.last_losses.items())
            return (f"epoch {s.epoch}/{s.epochs} step {s.step}/{s.steps_per_epoch}: loss {losses}, "
                    f"alpha {_num(s.alpha, '.4f')}, lr {_num(s.lr, '.2e')}, {_num(s.samples_per_s, '.0f')} samples/s, "
                    f"elapsed {hms(now - self.started)}")
        if isinstance(ev, Eval) and ev.split == "val":
            self.last_progress = time.monotonic()
            # held until the engine's summary of the epoch, which follows it (`_epoch_summary`)
            self.held = (ev.get("epoch"), f"epoch {ev.get('epoch')}/{s.epochs} validation: {self._metrics(ev)}",
                         hms(self.last_progress - self.started))
            return None
        if isinstance(ev, Log):
            return f"{ev.level}: {ev.message}" if ev.level != "info" else ev.message
        return None

    @staticmethod
    def _metrics(ev: Event) -> str:
        fused = ev.get("fused") or {}
        parts = [f"ACC {_num(fused.get('acc'))} MAP {_num(fused.get('map'))} F1 {_num(fused.get('f1'))}"]
        mods = ev.get("modalities") or {}
        if isinstance(mods, dict) and mods:
            parts.append(", ".join(f"{m} ACC {_num((v or {}).get('acc'))}" for m, v in mods.items()))
        if ev.get("gap") is not None:
            parts.append(f"{gaps.accuracy(ev.get('split'))} {_num(ev.get('gap'))}")
        parts.append(f"loss {_num(ev.get('loss'), '.4f')}")
        return "; ".join(parts)


class JsonView:
    """One JSON object a line on `out`: the engine's events as it wrote them, its other output as
    `{"source": "lfm", "type": "output", "stream", "text"}`, what `lfm` says as `notice`, and a
    final `result`; `quiet`: only run_finished and the result."""

    def __init__(self, out: TextIO, quiet: bool = False):
        self.out, self.quiet = out, quiet
        self.state = RunState()

    def write(self, obj: dict | str) -> None:
        emit(self.out, obj if isinstance(obj, str) else json.dumps(obj, allow_nan=True))

    def notice(self, text: str) -> None:
        self.write({"source": "lfm", "type": "notice", "message": text})

    def handle(self, item) -> None:
        if isinstance(item, Event):
            self.state.apply(item)
            if not self.quiet or isinstance(item, RunFinished):
                self.write(item.to_json())
        elif isinstance(item, LogLine) and not self.quiet:
            text = clean(item.text)
            if text.strip():
                self.write({"source": "lfm", "type": "output", "stream": item.stream, "text": text})

    def result(self, code: int, note: str | None, commands: dict, stderr_tail: list[str], wall_s: float) -> None:
        s = self.state
        self.write({"source": "lfm", "type": "result", "exit_code": code, "status": s.status or None,
                    "run_dir": s.run_dir or None, "error": s.error, "note": note, **commands,
                    "stderr": stderr_tail or None, "wall_s": round(wall_s, 3)})
