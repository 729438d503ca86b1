"""The `lfm` command: run, validate, prepare, tensorboard, tui. Heavy imports happen inside the commands."""
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
    nproc_per_node: Annotated[int, typer.Option(min=1, help="processes on this machine (torchrun, DDP)")] = 1,
    nnodes: Annotated[int, typer.Option(min=1, help="machines taking part")] = 1,
    node_rank: Annotated[int, typer.Option(min=0, help="this machine's rank, 0 .. nnodes-1")] = 0,
    rdzv_endpoint: Annotated[str, typer.Option(help="HOST:PORT of the machine of rank 0 (nnodes > 1)")] = "",
) -> None:
    """Train a recipe with a live view; Ctrl-C stops after the current step with a checkpoint."""
    from lfm_tui.client import Launch
    from lfm_tui.headless import run_headless

    if nnodes > 1 and (":" not in rdzv_endpoint or node_rank >= nnodes):
        _err("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (of the rank-0 machine) and "
             "--node-rank below --nnodes")
        raise typer.Exit(2)
    launch = Launch(nproc_per_node, nnodes, node_rank, rdzv_endpoint)

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
    raise typer.Exit(run_headless(args, raw_events=events, launch=launch))


@app.command()
def prepare(
    dataset: Annotated[str, typer.Argument(help=", ".join(recipes.DISK_DATASETS))],
    root: Annotated[Path, typer.Option(help="the dataset folder, in its community layout")],
    overrides: Annotated[Optional[list[str]], typer.Argument(
        help="data.* overrides, e.g. data.spectrogram=released data.frames=1")] = None,
    check: Annotated[bool, typer.Option("--check", help="report samples, classes and every missing or "
                                        "unreadable file; build nothing")] = False,
    recipe: Annotated[Optional[Path], typer.Option(help="take the data settings from this recipe")] = None,
) -> None:
    """Read a dataset folder, report what it holds, and build the prepared cache (spectrograms,
    frames, images) that runs read. Exit status 2 if anything is missing or unreadable."""
    if dataset not in recipes.DISK_DATASETS:
        _err(f"DATASET: expected one of {', '.join(recipes.DISK_DATASETS)}, found {dataset!r}")
        raise typer.Exit(2)
    args = [sys.executable, "-m", "engine.prepare", dataset, "--root", str(root), *(overrides or [])]
    if check:
        args.append("--check")
    if recipe is not None:
        args += ["--recipe", str(recipe)]
    try:
        raise typer.Exit(subprocess.call(args))
    except KeyboardInterrupt:
        raise typer.Exit(130)


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
    nproc_per_node: Annotated[int, typer.Option(min=1, help="processes per run on this machine (torchrun, DDP)")] = 1,
) -> None:
    """The interactive dashboard: pick a recipe, watch runs live, replay and compare past runs."""
    if not recipes_dir.is_dir():
        _err(f"{recipes_dir}: no such folder of recipes (give one: lfm tui path/to/recipes)")
        raise typer.Exit(2)
    if runs_dir.exists() and not runs_dir.is_dir():
        _err(f"{runs_dir}: not a folder (--runs-dir is the parent folder of run folders)")
        raise typer.Exit(2)
    from lfm_tui.app import make_app  # Textual only for this command

    from lfm_tui.client import Launch

    make_app(recipes_dir, runs_dir, launch=Launch(nproc_per_node)).run()


def main() -> None:
    app()


def tui_main() -> None:
    """`lfm-tui [RECIPES] [--runs-dir RUNS]`: the dashboard on its own."""
    typer.run(tui)
