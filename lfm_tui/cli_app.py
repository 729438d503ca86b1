"""The Typer app of `lfm` and its one way of reporting a user's mistake; the commands register
on it from lfm_tui/cli.py and lfm_tui/cli_review.py."""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, rich_markup_mode="rich", add_completion=False,
                  help="Experiment console for balanced multimodal learning (LFM and baselines).")


def err(message: str) -> None:
    """A one-line message in red on stderr (the caller exits with the status)."""
    typer.secho(message, fg=typer.colors.RED, err=True)
