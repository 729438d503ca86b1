"""The `lfm` command: validate, run, prepare, sweep and tui here; the commands that review
finished runs (compare, plot, ensemble, tensorboard) in lfm_tui/cli_review.py, on the same app.
Heavy imports happen inside the commands."""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.contract import layout
from engine.contract import folder_lock
from engine.contract import recipe as recipes
from engine.contract.errors import UserError
from engine.contract.outcome import EXIT_CANCELLED
from lfm_tui.cli_app import Command, app, err as _err


@app.command()
def validate(
    recipe: Annotated[Path, typer.Argument(help="recipe TOML file")],
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides")] = None,
) -> None:
    """Check a recipe and its overrides; list every problem at once (exit status 2 if any)."""
    r = _load(recipe, overrides or [])
    mods = ", ".join(r.data.modalities)
    typer.echo(f"{recipe}: valid ({r.data.name}: {mods}; method {r.method.name}; "
               f"alpha {r.alpha.strategy}; {r.train.epochs} epochs)")


def _ctrl_c_is_130(command):
    """A Ctrl-C before the command has handed it to the engine's client (while it validates and
    imports): one line and exit status 130, where Click would print `Aborted!` with status 1."""
    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            _err("interrupted: stopped before the run started")
            raise typer.Exit(EXIT_CANCELLED) from None
    return guarded


@app.command()
@_ctrl_c_is_130
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
    seeds: Annotated[Optional[str], typer.Option(
        help="run these seeds one after another (e.g. 0,1,2) into runs/<recipe>/seeds-<time>/, "
             "then write summary.{md,csv,json} with mean and std")] = None,
    log_format: Annotated[str, typer.Option(
        help="auto (live view on a terminal, plain lines otherwise), live, plain (a line per epoch "
             "and a progress line every LFM_PROGRESS_EVERY seconds), json (one JSON object a line)")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the result (and errors)")] = False,
) -> None:
    """Train a recipe with a live view; Ctrl-C stops after the current step with a checkpoint."""
    from lfm_tui.client import Launch
    from lfm_tui.headless import LOG_FORMATS, run_headless

    if log_format not in LOG_FORMATS:
        raise UserError(f"--log-format: expected one of {', '.join(LOG_FORMATS)}, found {log_format!r}")
    if events and (quiet or log_format != "auto"):
        raise UserError("--events prints the raw event stream: it takes neither --quiet nor --log-format")

    if nnodes > 1 and (":" not in rdzv_endpoint or node_rank >= nnodes):
        raise UserError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (of the rank-0 machine) and "
                        "--node-rank below --nnodes")
    launch = Launch(nproc_per_node, nnodes, node_rank, rdzv_endpoint)

    if seeds is not None:
        if quiet or log_format != "auto":
            raise UserError("--seeds: --quiet and --log-format are for a single run (a series prints plain lines "
                            "when its output is not a terminal)")
        if resume is not None or recipe is None:
            raise UserError("--seeds takes a recipe file (continue a stopped seed series with "
                            "lfm sweep --resume FOLDER)")
        name = _load(recipe, overrides or []).name
        folder = runs_dir / name / layout.stamped_name("seeds")
        raise typer.Exit(_start_sweep(folder, recipe, overrides or [], [], seeds, events, fresh=True))
    if resume is not None:
        if recipe is not None or overrides:
            raise UserError("--resume takes only the run folder: the run continues with the recipe saved in it")
        if not (resume / layout.RECIPE).is_file() or not layout.checkpoint(resume).is_file():
            raise UserError(f"{resume}: not a run folder that can be resumed "
                            f"(expected {layout.RECIPE} and {layout.CHECKPOINTS}/{layout.LAST})")
        busy = folder_lock.in_use(resume)  # the engine checks again; this also covers torchrun's ranks
        if busy is not None:   # folder_lock.FolderInUse: the holder's message
            raise UserError(str(busy))
        args = ["--resume", str(resume)]
    else:
        if recipe is None:
            raise UserError("give a recipe file (e.g. lfm run recipes/emoji.toml) or --resume RUN_FOLDER")
        _load(recipe, overrides or [])
        args = [str(recipe), *(overrides or []), "--runs-dir", str(runs_dir)]
    raise typer.Exit(run_headless(args, raw_events=events, launch=launch, log_format=log_format, quiet=quiet))


@app.command()
def prepare(
    dataset: Annotated[str, typer.Argument(help=", ".join(recipes.PREPARABLE))],
    root: Annotated[Optional[Path], typer.Option(help="the dataset folder, in its community layout (a built-in "
                                                      "dataset: none, or a folder holding its asset files)")] = None,
    overrides: Annotated[Optional[list[str]], typer.Argument(
        help="data.* overrides, e.g. data.spectrogram=released data.frames=1")] = None,
    check: Annotated[bool, typer.Option("--check", help="report samples, classes and every missing or "
                                        "unreadable file; build nothing")] = False,
    recipe: Annotated[Optional[Path], typer.Option(help="take the data settings from this recipe")] = None,
) -> None:
    """Read a dataset folder (or a built-in dataset's asset), report what it holds, and build the
    prepared cache (spectrograms, frames, images) that runs read. Exit status 2 if anything is
    missing or unreadable."""
    if dataset not in recipes.PREPARABLE:
        raise UserError(f"DATASET: expected one of {', '.join(recipes.PREPARABLE)}, found {dataset!r}")
    if root is None and dataset in recipes.DISK_DATASETS:
        raise UserError(f"--root: {dataset} is read from its dataset folder: lfm prepare {dataset} --root PATH")
    args = [sys.executable, "-m", "engine.prepare", dataset, *(["--root", str(root)] if root else []),
            *(overrides or [])]
    if check:
        args.append("--check")
    if recipe is not None:
        args += ["--recipe", str(recipe)]
    try:
        raise typer.Exit(subprocess.call(args))
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_CANCELLED)


def _load(recipe: Path, overrides: list[str]):
    """The recipe with its overrides, validated: UserError listing every problem otherwise."""
    try:
        return recipes.load(recipe, overrides)
    except recipes.RecipeError as exc:
        raise UserError(exc.render()) from None


def _start_sweep(folder: Path, recipe: Path, overrides: list[str], grid: list[str], seeds: str,
                 events: bool, options=None, fresh: bool = False) -> int:
    """`fresh`: `folder` is a default `<prefix>-<time>` name, suffixed where it is taken."""
    from lfm_tui import sweep as sweeps

    command = sys.argv[1:] and ["lfm", *sys.argv[1:]]
    return sweeps.start(folder, recipe, overrides, grid, seeds, command, events, _console(), options, fresh=fresh)


def _console():
    from lfm_tui.headless import make_console

    return make_console()


@app.command()
@_ctrl_c_is_130
def sweep(
    recipe: Annotated[Optional[Path], typer.Argument(help="recipe TOML file")] = None,
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides for every run")] = None,
    grid: Annotated[Optional[list[str]], typer.Option(
        help="KEY=V1,V2,...: one grid axis (repeat for a product), e.g. method.name=concat,ogm_ge,lfm")] = None,
    seeds: Annotated[str, typer.Option(help="seeds of every grid point, e.g. 0,1,2")] = "0",
    out: Annotated[Optional[Path], typer.Option(help="the sweep folder (default runs/<recipe>/sweep-<time>)")] = None,
    resume: Annotated[Optional[Path], typer.Option(
        help="continue this sweep folder: finished runs are skipped, stopped ones resumed")] = None,
    status: Annotated[Optional[Path], typer.Option(
        help="show the state of every run of this sweep folder, read from its run folders")] = None,
    runs_dir: Annotated[Path, typer.Option(help="parent folder of the default sweep folder")] = Path("runs"),
    events: Annotated[bool, typer.Option("--events", help="print the raw JSON Lines event streams")] = False,
    jobs: Annotated[int, typer.Option(help="runs at once (local: on this machine; ray, slurm: at most)")] = 1,
    executor: Annotated[str, typer.Option(help="local (this machine), ray (a Ray cluster) or slurm "
                                          "(a job array through submitit)")] = "local",
    cpus_per_run: Annotated[Optional[int], typer.Option(
        help="CPU threads of each run (local default: this machine's CPUs / --jobs; ray, slurm: 1)")] = None,
    gpus_per_run: Annotated[Optional[int], typer.Option(
        help="GPUs of each run (local default: the visible GPUs shared out; 0: CPU only)")] = None,
    address: Annotated[str, typer.Option(help="ray: the cluster to join (default: a Ray instance here)")] = "",
    partition: Annotated[str, typer.Option(help="slurm: partition")] = "",
    time_limit: Annotated[str, typer.Option("--time", help="slurm: time limit per run, minutes or "
                                            "[D-]HH:MM[:SS]")] = "",
    account: Annotated[str, typer.Option(help="slurm: account to charge")] = "",
    mem: Annotated[Optional[float], typer.Option(help="slurm: memory per run, GB")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="slurm: return once the job array is submitted")] = False,
) -> None:
    """Run a grid of configurations over seeds, then print the comparison table.

    Every grid point is validated before anything runs; runs go one after another, or --jobs N
    at once, or on a Ray cluster or a Slurm cluster (--executor). Slurm settings may also come
    from a \\[sweep.slurm] table of the recipe."""
    from lfm_tui.executors.base import Options

    if status is not None:
        if recipe is not None or overrides or grid or out is not None or resume is not None:
            raise UserError("--status takes only the sweep folder")
        from lfm_tui.sweep import print_status

        raise typer.Exit(print_status(status, _console()))
    options = Options(executor=executor, jobs=jobs, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                      address=address, detach=detach,
                      slurm={"partition": partition, "time": time_limit, "account": account,
                             "mem_gb": mem})
    if resume is not None:
        if recipe is not None or overrides or grid or out is not None:
            raise UserError("--resume takes only the sweep folder (and how to run it: --jobs, --executor, ...): "
                            "the sweep continues with its saved plan")
        from lfm_tui import sweep as sweeps

        raise typer.Exit(sweeps.run(resume, events, _console(), options))
    if recipe is None:
        raise UserError("give a recipe file (e.g. lfm sweep recipes/mfeat.toml --grid method.name=concat,lfm) "
                        "or --resume SWEEP_FOLDER")
    from lfm_tui.plan import recipe_name

    try:
        name = recipe_name(recipe, overrides or [])
    except recipes.RecipeError as exc:
        raise UserError(exc.render()) from None
    folder = out or runs_dir / name / layout.stamped_name("sweep")
    raise typer.Exit(_start_sweep(folder, recipe, overrides or [], grid or [], seeds, events, options,
                                  fresh=out is None))


@app.command()
def tui(
    recipes_dir: Annotated[Path, typer.Argument(help="folder of recipe TOML files")] = Path("recipes"),
    runs_dir: Annotated[Path, typer.Option(help="parent folder of run folders")] = Path("runs"),
    nproc_per_node: Annotated[int, typer.Option(min=1, help="processes per run on this machine (torchrun, DDP)")] = 1,
    sweep: Annotated[Optional[list[Path]], typer.Option(
        help="open on the sweeps screen with this sweep folder, or every sweep of an lfm reproduce folder "
             "(repeat for several)")] = None,
) -> None:
    """The interactive dashboard: pick a recipe, watch runs live, replay and compare past runs,
    follow sweeps."""
    from lfm_tui.reproduce.planning import with_reproductions

    sweep = with_reproductions(sweep or [])   # a reproduction folder: its sweeps
    bad = [p for p in sweep if not layout.is_sweep(p)]
    if bad:
        raise UserError("; ".join(f"{p}: not a sweep folder (expected {layout.SWEEP_PLAN})" for p in bad))
    if not recipes_dir.is_dir():
        raise UserError(f"{recipes_dir}: no such folder of recipes (give one: lfm tui path/to/recipes)")
    if runs_dir.exists() and not runs_dir.is_dir():
        raise UserError(f"{runs_dir}: not a folder (--runs-dir is the parent folder of run folders)")
    from lfm_tui.app import make_app  # Textual only for this command

    from lfm_tui.client import Launch

    make_app(recipes_dir, runs_dir, launch=Launch(nproc_per_node), sweep_dirs=sweep or []).run()


def main() -> None:
    app()


def tui_main() -> None:
    """`lfm-tui [RECIPES] [--runs-dir RUNS]`: the dashboard on its own."""
    solo = typer.Typer(add_completion=False)
    solo.command(cls=Command)(tui)
    solo()


from lfm_tui import cli_review  # noqa: E402, F401  (registers compare, plot, ensemble, tensorboard on the app)
from lfm_tui import cli_runs  # noqa: E402, F401  (registers runs, tag, note on the app)
from lfm_tui import cli_reproduce  # noqa: E402, F401  (registers reproduce on the app)
