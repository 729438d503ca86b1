"""A documentation page generated from the code that defines its subject (docs/events.md,
docs/recipes.md, docs/methods.md): whether the page on disk is current, and the command line
that writes it or, with `--check`, exits 1 naming the command that regenerates it."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from engine.contract.writes import write_atomic


def stale(path: Path, text: str, command: str) -> list[str]:
    """What is wrong with the page at `path` against its generated `text`: missing or stale."""
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if current == text:
        return []
    return [f"{path} is {'missing' if current is None else 'stale'}; regenerate it: PYTHONPATH=. {command}"]


def report(problems: list[str]) -> int:
    for p in problems:
        print(f"lfm: {p}", file=sys.stderr)
    return 1 if problems else 0


def write(path: Path, text: str) -> int:
    try:
        write_atomic(path, text)
    except OSError as exc:
        print(f"lfm: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None, *, command: str, description: str, default: Path,
         render: Callable[[], str], check: Callable[[Path], list[str]]) -> int:
    """`command [--check] [--path PAGE]`: write the page, or check it."""
    parser = argparse.ArgumentParser(prog=command, description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    parser.add_argument("--path", type=Path, default=default, help=f"the page (default: {default.name})")
    args = parser.parse_args(argv)
    return report(check(args.path)) if args.check else write(args.path, render())
