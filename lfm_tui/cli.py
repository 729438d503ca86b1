"""The `lfm` command: run, validate, tensorboard, tui. Heavy imports happen inside the commands."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine import recipe as recipes

app = typer.Typer(no_args_is_help=True, rich_markup_mode="rich", add_completion=False,
                  help="Experiment console for balanced multimodal learning (LFM and baselines).")


def _err(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)


@app.command()
def validate(
    recipe: Annotated[Path, typer.Argument(help="recipe TOML file")],
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides")] = None,
) -> None:
    """Check a recipe and its overrides; list every problem at once (exit status 2 if any)."""
    try:
        r = recipes.load(recipe, overrides or [])
    except recipes.RecipeError as exc:
        _err(exc.render())
        raise typer.Exit(2)
    mods = ", ".join(r.data.modalities)
    typer.echo(f"{recipe}: valid ({r.data.name}: {mods}; alpha {r.alpha.strategy}; "
               f"{r.train.epochs} epochs)")


@app.command()
def run(
    recipe: Annotated[Optional[Path], typer.Argument(help="recipe TOML file")] = None,
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides, e.g. train.epochs=3")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="continue a stopped run from this run folder")] = None,
    events: Annotated[bool, typer.Option("--events", help="print the raw JSON Lines event stream")] = False,
    runs_dir: Annotated[Path, typer.Option(help="parent folder of run folders")] = Path("runs"),
) -> None:
    """Train a recipe with a live view; Ctrl-C stops after the current step with a checkpoint."""
    from lfm_tui.headless import run_headless

    if resume is not None:
        if recipe is not None or overrides:
            _err("--resume takes only the run folder: the run continues with the recipe saved in it")
            raise typer.Exit(2)
        if not (resume / "recipe.toml").is_file() or not (resume / "checkpoints" / "last.pt").is_file():
            _err(f"{resume}: not a run folder that can be resumed "
                 "(expected recipe.toml and checkpoints/last.pt)")
            raise typer.Exit(2)
        args = ["--resume", str(resume)]
    else:
        if recipe is None:
            _err("give a recipe file (e.g. lfm run recipes/emoji.toml) or --resume RUN_FOLDER")
            raise typer.Exit(2)
        try:
            recipes.load(recipe, overrides or [])
        except recipes.RecipeError as exc:
            _err(exc.render())
            raise typer.Exit(2)
        args = [str(recipe), *(overrides or []), "--runs-dir", str(runs_dir)]
    raise typer.Exit(run_headless(args, raw_events=events))


@app.command()
def tensorboard(
    runs: Annotated[Path, typer.Argument(help="a run folder or a folder of runs")] = Path("runs"),
    port: Annotated[int, typer.Option(help="port to serve on")] = 6006,
) -> None:
    """Start TensorBoard on a run folder or on the runs folder."""
    if not runs.exists():
        _err(f"{runs}: no such folder")
        raise typer.Exit(2)
    exe = shutil.which("tensorboard")
    cmd = [exe] if exe else [sys.executable, "-m", "tensorboard.main"]
    typer.echo(f"TensorBoard on {runs} at http://localhost:{port}/ (Ctrl-C to stop)")
    try:
        raise typer.Exit(subprocess.call([*cmd, "--logdir", str(runs), "--port", str(port)]))
    except KeyboardInterrupt:
        raise typer.Exit(0)


@app.command()
def tui(
    recipes_dir: Annotated[Path, typer.Argument(help="folder of recipe TOML files")] = Path("recipes"),
    runs_dir: Annotated[Path, typer.Option(help="parent folder of run folders")] = Path("runs"),
) -> None:
    """The interactive dashboard: pick a recipe, watch runs live, replay and compare past runs."""
    if not recipes_dir.is_dir():
        _err(f"{recipes_dir}: no such folder of recipes (give one: lfm tui path/to/recipes)")
        raise typer.Exit(2)
    if runs_dir.exists() and not runs_dir.is_dir():
        _err(f"{runs_dir}: not a folder (--runs-dir is the parent folder of run folders)")
        raise typer.Exit(2)
    from lfm_tui.app import make_app  # Textual only for this command

    make_app(recipes_dir, runs_dir).run()


def main() -> None:
    app()


def tui_main() -> None:
    """`lfm-tui [RECIPES] [--runs-dir RUNS]`: the dashboard on its own."""
    typer.run(tui)
