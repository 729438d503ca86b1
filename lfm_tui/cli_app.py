"""The Typer app of `lfm` and its one way of reporting a user's mistake; the commands register
on it from lfm_tui/cli.py and lfm_tui/cli_review.py.

A command that finds a mistake in its command line or its input raises engine.contract.errors.UserError
(or a subclass, e.g. writes.LinkRefused) with the message; the app catches it once, around
every command: the message on stderr, in red, and exit status EXIT_USAGE (2)."""
from __future__ import annotations

import typer
from typer.core import TyperCommand, TyperGroup

from engine.contract.errors import UserError
from engine.contract.outcome import EXIT_USAGE


def err(message: str) -> None:
    """A message in red on stderr (the caller exits with the status)."""
    typer.secho(message, fg=typer.colors.RED, err=True)


class _UsageErrorsCaught:
    """Click's invoke, with a UserError from the command turned into its message and EXIT_USAGE."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            err(str(exc))
            raise typer.Exit(EXIT_USAGE) from None


class Group(_UsageErrorsCaught, TyperGroup):
    """`lfm` and its commands."""


class Command(_UsageErrorsCaught, TyperCommand):
    """A command run on its own (`lfm-tui`)."""


app = typer.Typer(cls=Group, no_args_is_help=True, rich_markup_mode="rich", add_completion=False,
                  help="Experiment console for balanced multimodal learning (LFM and baselines).")
