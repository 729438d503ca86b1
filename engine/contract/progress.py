"""Progress of a long loop (`lfm prepare`, building the prepared cache): a tqdm bar on a terminal;
elsewhere (a log file, a pipe, a batch job) plain lines at a steady interval, without carriage
returns or control codes, so that the log can be followed with `tail -f`. `preparing()` tells
the reporters of slow preparation (the engine's `preparing` events, engine/run.py) how far it is.

LFM_PROGRESS_EVERY sets the interval in seconds (default 30; 0: a line for every item).
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")
INTERVAL_ENV = "LFM_PROGRESS_EVERY"
DEFAULT_INTERVAL = 30.0
PREPARING_EVERY = 1.0  # seconds between two reports of one preparation, its start and end aside

Reporter = Callable[[str, int, "int | None", str, str], None]  # what, done, total, unit, cache
_reporters: list[Reporter] = []
_last_report: dict[str, float] = {}


@contextmanager
def reporting(reporter: Reporter):
    """`reporter` hears of every preparation while the block runs."""
    _reporters.append(reporter)
    try:
        yield
    finally:
        _reporters.remove(reporter)


def preparing(what: str, done: int, total: int | None, unit: str = "items", cache: str = "") -> None:
    """How far a slow preparation is, to each reporter: at its start (done 0), its end (done ==
    total) and at most every PREPARING_EVERY seconds between."""
    now = time.monotonic()
    if 0 < done != total and now - _last_report.get(what, float("-inf")) < PREPARING_EVERY:
        return
    _last_report[what] = now
    for reporter in list(_reporters):
        reporter(what, done, total, unit, cache)


def interval() -> float:
    """Seconds between plain progress lines: LFM_PROGRESS_EVERY, else the default; a value that
    is not a number >= 0 falls back to the default."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value >= 0 else DEFAULT_INTERVAL


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def progress(items: Iterable[T], desc: str, unit: str = "item", disable: bool = False,
             stream: TextIO | None = None) -> Iterable[T]:
    """`items`, reporting progress on `stream` (stderr): tqdm on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if disable:
        return items
    if is_terminal(stream):
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit=unit, file=stream, dynamic_ncols=True)
    return plain_lines(items, desc, unit, stream, interval())


def plain_lines(items: Iterable[T], desc: str, unit: str, stream: TextIO, every: float) -> Iterator[T]:
    """Yields `items`; writes `desc: i/n unit(s) (p%), elapsed, rate` at most every `every`
    seconds while it runs, and one line at the end."""
    total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    started = last = time.monotonic()
    done = 0

    def line(final: bool) -> None:
        elapsed = time.monotonic() - started
        count = f"{done}/{total}" if total is not None else f"{done}"
        share = f" ({100 * done / total:.0f}%)" if total else ""
        rate = f", {done / elapsed:.1f} {unit}/s" if elapsed > 0 and done else ""
        state = "done in" if final else "elapsed"
        stream.write(f"{desc}: {count} {unit}(s){share}, {state} {elapsed:.0f} s{rate}\n")
        stream.flush()

    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every and (total is None or done < total):
            last = now
            line(final=False)
    line(final=True)
