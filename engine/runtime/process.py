"""The engine as a process: its arguments, its event stream, its signals, and how it leaves.

- The event stream is the process's original stdout; fd 1 is pointed at stderr so a stray
  print from the engine or a library can never corrupt it.
- Signals are handled from the first instant of `main`: SIGINT asks for a stop (the current
  step ends, `last.pt` is written, the run is reported as cancelled; during start-up nothing
  is written at all); SIGTERM stops at once by raising `Terminated` wherever the process is,
  so every temporary file is removed on the way out and the run is still reported, from its
  last checkpoint. While the run reports how it ended, SIGTERM waits until that is written.
- SIGHUP says the process that started the engine is gone (`lfm` killed, or torchrun: the kernel
  sends it, engine/contract/lifeline.py): stdout and stderr, whose reader is gone, go to /dev/null and
  the run stops as for SIGINT, with a checkpoint, instead of training on with nobody to see it.
- A process that joined a process group leaves with os._exit once everything is written and
  flushed: tearing a gloo group down (destroy_process_group or the interpreter's own exit)
  can abort a rank with std::terminate after the run is over.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Callable

from engine.contract import lifeline
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m engine", description="One training run: recipe in, run folder and JSON Lines events out.")
    p.add_argument("recipe", nargs="?", help="recipe TOML file")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=3")
    p.add_argument("--runs-dir", default="runs", help="parent folder of run folders (default: runs)")
    p.add_argument("--run-dir", metavar="FOLDER",
                   help="this exact run folder (new or empty) instead of one under --runs-dir")
    p.add_argument("--resume", metavar="RUN_FOLDER", help="continue a stopped run from its last.pt")
    args = p.parse_args(argv)
    if args.resume and args.run_dir:
        p.error("--resume continues the run in its own folder: --run-dir is not accepted")
    if args.resume and args.recipe and args.recipe.endswith(".toml"):
        p.error("--resume takes the run folder only: the recipe is the one saved in it")
    if args.resume and args.recipe:  # `--resume DIR` given after a stray positional
        args.overrides = [args.recipe, *args.overrides]
        args.recipe = None
    if args.resume and args.overrides:
        p.error("--resume continues a run with its saved recipe: overrides are not accepted")
    if not args.resume and not args.recipe:
        p.error("a recipe file is required (or --resume RUN_FOLDER)")
    return args


class Terminated(BaseException):
    """SIGTERM: stop now (a BaseException, so no `except Exception` swallows it)."""


class StoppedEarly(Exception):
    """A stop was asked for before the run folder was written: nothing was written."""


def launch_rank() -> int:
    """This process's rank as torchrun set it (0 for a single process), known before the
    process group exists."""
    return int(os.environ.get("RANK", "0") or 0)


def event_stream():
    """Keep the real stdout for events; send fd 1 (and sys.stdout) to stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8")


class Signals:
    """SIGINT and SIGTERM for one engine process. `requested`: a stop was asked for; `on_stop`
    is called at the first request (the trainer's flag); `shielded` defers SIGTERM while the
    outcome is being written."""

    def __init__(self) -> None:
        self.requested = False
        self.on_stop: Callable[[], None] | None = None
        self.shielded = False
        self.terminate_pending = False
        self._previous: dict[int, object] = {}

    def install(self) -> "Signals":
        for sig, handler in ((signal.SIGINT, self._interrupt), (signal.SIGTERM, self._terminate),
                             (lifeline.ENGINE_SIGNAL, self._orphaned)):
            self._previous[sig] = signal.signal(sig, handler)
        if "TORCHELASTIC_RUN_ID" in os.environ:  # a rank of torchrun: stop when torchrun dies
            lifeline.on_parent_death(lifeline.ENGINE_SIGNAL)  # (lfm arms a plain engine as it starts it)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _interrupt(self, signum, frame) -> None:
        if self.requested:
            return
        self.requested = True
        if self.on_stop is not None:
            self.on_stop()

    def _orphaned(self, signum, frame) -> None:
        """The reader of stdout and stderr is gone: both go to /dev/null, then a stop as SIGINT."""
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2):
                os.dup2(null, fd)
            os.close(null)
        except OSError:
            pass
        self._interrupt(signum, frame)

    def _terminate(self, signum, frame) -> None:
        self.requested = True
        if self.shielded:
            self.terminate_pending = True
            return
        raise Terminated()


def leave(code: int, distributed: bool, *streams) -> int:
    """The exit status to return; a process that joined a process group ends here, at once."""
    if not distributed:
        return code
    for s in (*streams, sys.stderr, sys.__stdout__):
        try:
            s.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)
