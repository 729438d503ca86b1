"""The `lfm` and `lfm-tui` programs: the CLI is imported inside a guard, so that a Ctrl-C that
comes while Python is still importing it (the first half second) ends with one line and exit
status 130, never a KeyboardInterrupt traceback. Nothing is imported here before the guard."""
from __future__ import annotations

import sys

EXIT_CANCELLED = 130  # engine/contract/outcome.py's, not imported: that import is what is guarded


def _guarded(command: str) -> None:
    try:
        from lfm_tui import cli

        getattr(cli, command)()
    except KeyboardInterrupt:
        print("interrupted: nothing was started", file=sys.stderr)
        raise SystemExit(EXIT_CANCELLED) from None


def main() -> None:
    _guarded("main")


def tui_main() -> None:
    _guarded("tui_main")
