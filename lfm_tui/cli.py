"""The `lfm` command: run, sweep, compare, plot, ensemble, validate, prepare, tensorboard, tui. Heavy imports happen
inside the commands."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine import layout
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
    typer.echo(f"{recipe}: valid ({r.data.name}: {mods}; method {r.method.name}; "
               f"alpha {r.alpha.strategy}; {r.train.epochs} epochs)")


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
        _err(f"--log-format: expected one of {', '.join(LOG_FORMATS)}, found {log_format!r}")
        raise typer.Exit(2)
    if events and (quiet or log_format != "auto"):
        _err("--events prints the raw event stream: it takes neither --quiet nor --log-format")
        raise typer.Exit(2)

    if nnodes > 1 and (":" not in rdzv_endpoint or node_rank >= nnodes):
        _err("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (of the rank-0 machine) and "
             "--node-rank below --nnodes")
        raise typer.Exit(2)
    launch = Launch(nproc_per_node, nnodes, node_rank, rdzv_endpoint)

    if seeds is not None:
        if quiet or log_format != "auto":
            _err("--seeds: --quiet and --log-format are for a single run (a series prints plain lines "
                 "when its output is not a terminal)")
            raise typer.Exit(2)
        if resume is not None or recipe is None:
            _err("--seeds takes a recipe file (continue a stopped seed series with lfm sweep --resume FOLDER)")
            raise typer.Exit(2)
        name = _load_or_exit(recipe, overrides or []).name
        folder = runs_dir / name / f"seeds-{time.strftime('%Y%m%d-%H%M%S')}"
        raise typer.Exit(_start_sweep(folder, recipe, overrides or [], [], seeds, events))
    if resume is not None:
        if recipe is not None or overrides:
            _err("--resume takes only the run folder: the run continues with the recipe saved in it")
            raise typer.Exit(2)
        if not (resume / layout.RECIPE).is_file() or not layout.checkpoint(resume).is_file():
            _err(f"{resume}: not a run folder that can be resumed "
                 f"(expected {layout.RECIPE} and {layout.CHECKPOINTS}/{layout.LAST})")
            raise typer.Exit(2)
        busy = layout.in_use(resume)  # the engine checks again; this also covers torchrun's ranks
        if busy is not None:
            _err(str(busy))
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
    raise typer.Exit(run_headless(args, raw_events=events, launch=launch, log_format=log_format, quiet=quiet))


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
def ensemble(
    runs: Annotated[list[Path], typer.Argument(
        help="two or more finished run folders (e.g. one per modality), or folders of seed runs, paired by seed")],
    rule: Annotated[str, typer.Option(help="mean: average the probabilities; logmean: average their logarithms")] = "mean",
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Late-fusion ensemble: average the test-split class probabilities that the runs saved
    (predictions.npz) and score the combination beside each run. Given folders of seed runs
    (`lfm run --seeds`, a sweep's grid point), the runs are combined seed by seed and the mean
    and std over seeds reported. Exit status 2 for a folder without predictions or runs tested
    on different samples."""
    args = [sys.executable, "-m", "engine.ensemble", *map(str, runs), "--rule", rule]
    if json_out:
        args.append("--json")
    try:
        raise typer.Exit(subprocess.call(args))
    except KeyboardInterrupt:
        raise typer.Exit(130)


def _load_or_exit(recipe: Path, overrides: list[str]):
    try:
        return recipes.load(recipe, overrides)
    except recipes.RecipeError as exc:
        _err(exc.render())
        raise typer.Exit(2)


def _start_sweep(folder: Path, recipe: Path, overrides: list[str], grid: list[str], seeds: str,
                 events: bool, options=None) -> int:
    from lfm_tui import sweep as sweeps

    command = sys.argv[1:] and ["lfm", *sys.argv[1:]]
    return sweeps.start(folder, recipe, overrides, grid, seeds, command, events, _console(), options)


def _console():
    from lfm_tui.headless import make_console

    return make_console()


@app.command()
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
    from lfm_tui import executors

    if status is not None:
        if recipe is not None or overrides or grid or out is not None or resume is not None:
            _err("--status takes only the sweep folder")
            raise typer.Exit(2)
        from lfm_tui.executors.view import print_status

        raise typer.Exit(print_status(status, _console()))
    options = executors.Options(executor=executor, jobs=jobs, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                                address=address, detach=detach,
                                slurm={"partition": partition, "time": time_limit, "account": account,
                                       "mem_gb": mem})
    if resume is not None:
        if recipe is not None or overrides or grid or out is not None:
            _err("--resume takes only the sweep folder (and how to run it: --jobs, --executor, ...): "
                 "the sweep continues with its saved plan")
            raise typer.Exit(2)
        from lfm_tui import sweep as sweeps

        raise typer.Exit(sweeps.run(resume, events, _console(), options))
    if recipe is None:
        _err("give a recipe file (e.g. lfm sweep recipes/mfeat.toml --grid method.name=concat,lfm) "
             "or --resume SWEEP_FOLDER")
        raise typer.Exit(2)
    from lfm_tui.sweep import recipe_name

    try:
        name = recipe_name(recipe, overrides or [])
    except recipes.RecipeError as exc:
        _err(exc.render())
        raise typer.Exit(2)
    folder = out or runs_dir / name / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    raise typer.Exit(_start_sweep(folder, recipe, overrides or [], grid or [], seeds, events, options))


@app.command()
def compare(
    folders: Annotated[list[Path], typer.Argument(help="run folders, or folders holding them (a sweep)")],
    out: Annotated[Optional[Path], typer.Option(help="also write OUT.md, OUT.csv and OUT.json")] = None,
    title: Annotated[str, typer.Option(help="title of the table")] = "test metrics, mean ± std over seeds",
) -> None:
    """Print the comparison table of finished runs (mean ± std over seeds).

    Rows are configurations (runs differing only in the seed are grouped); columns fused ACC,
    MAP, macro-F1, each modality's ACC and the gap."""
    from rich.console import Console
    from rich.text import Text

    from lfm_tui import compare as cmp

    try:
        rows, runs = cmp.compare(folders)
    except cmp.CompareError as exc:
        _err(str(exc))
        raise typer.Exit(2)
    if not rows:
        _err("no finished run among: " + ", ".join(f"{r.path} ({r.status})" for r in runs))
        raise typer.Exit(2)
    from lfm_tui.headless import print_table

    console = Console()
    print_table(console, rows, title)
    skipped = [r for r in runs if r.status != "ok"]
    if skipped:  # paths and reasons are text, never markup
        console.print(Text.assemble(("not finished, left out: ", "yellow"),
                                    ", ".join(f"{r.path} ({r.status})" for r in skipped)))
    if out is not None:
        try:
            paths = cmp.write_outputs(out, rows, runs, title=f"# {title}")
        except OSError as exc:
            _err(f"could not write {exc.filename or out}: {exc.strerror or exc}")
            raise typer.Exit(1)
        console.print(Text("written: " + ", ".join(str(p) for p in paths)))


@app.command()
def plot(
    folders: Annotated[list[Path], typer.Argument(help="run folders, or folders holding them (a sweep)")],
    out: Annotated[Optional[Path], typer.Option(
        help="folder of the figures (default: the sweep or seed folder, when one is given alone)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="png or svg")] = "png",
    dpi: Annotated[int, typer.Option(help="pixels per inch")] = 100,
    size: Annotated[Optional[str], typer.Option(help="WxH in inches, e.g. 12x8 (default: from the panels and rows)")] = None,
    figures: Annotated[str, typer.Option(help="curves, bars, or both: curves,bars")] = "curves,bars",
    prefix: Annotated[str, typer.Option(help="put before each file name, e.g. fashion_")] = "",
    label: Annotated[Optional[list[str]], typer.Option(
        help="FOLDER=TEXT: label the row of the runs at or below FOLDER (repeat for more rows)")] = None,
) -> None:
    """Figures of finished runs: curves (alpha, validation ACC fused and per modality, by epoch;
    mean over seeds with a band) and bars (test ACC per configuration, error bars over seeds).

    Rows are those of `lfm compare`, labelled alike unless --label names them. Writes curves.FORMAT and bars.FORMAT, each beside a JSON
    file of the numbers drawn. Drawn by `python -m lfm_plot` (matplotlib) in a process of its own."""
    args = [sys.executable, "-m", "lfm_plot", "--format", fmt, "--dpi", str(dpi), "--figures", figures,
            "--prefix", prefix, *(["--out", str(out)] if out is not None else []),
            *(["--size", size] if size is not None else []), *(f"--label={x}" for x in label or []),
            "--", *map(str, folders)]
    # lfm_plot lies beside lfm_tui; a child started from an editable install that predates it
    # would not find it without its folder on the path
    env = dict(os.environ)
    home = str(Path(__file__).resolve().parents[1])
    if home not in {str(Path(p or ".").resolve()) for p in sys.path}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
    try:
        raise typer.Exit(subprocess.call(args, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(130)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def tensorboard(
    ctx: typer.Context,
    runs: Annotated[Path, typer.Argument(help="a run folder or a folder of runs")] = Path("runs"),
    port: Annotated[Optional[int], typer.Option(help="port to serve on (default 6006)")] = None,
) -> None:
    """Start TensorBoard on a run folder or on the runs folder; it stops with lfm.

    Other options go to TensorBoard: lfm tensorboard runs --bind_all, or after --:
    lfm tensorboard runs -- --bind_all --reload_interval 5."""
    from lfm_tui import tensorboard as tb

    extra = list(ctx.args)
    if str(runs).startswith("-"):  # a TensorBoard option before any folder: the folder is the default
        extra, runs = [str(runs), *extra], Path("runs")
    if not runs.exists():
        _err(f"{runs}: no such folder")
        raise typer.Exit(2)
    try:
        cmd = tb.command(runs, port, extra)
    except tb.TensorBoardError as exc:
        _err(str(exc))
        raise typer.Exit(2)
    typer.echo(f"TensorBoard on {shlex.quote(str(runs))}: tensorboard {shlex.join(cmd[3:])} (Ctrl-C to stop)")
    raise typer.Exit(tb.serve(cmd))


@app.command()
def tui(
    recipes_dir: Annotated[Path, typer.Argument(help="folder of recipe TOML files")] = Path("recipes"),
    runs_dir: Annotated[Path, typer.Option(help="parent folder of run folders")] = Path("runs"),
    nproc_per_node: Annotated[int, typer.Option(min=1, help="processes per run on this machine (torchrun, DDP)")] = 1,
    sweep: Annotated[Optional[list[Path]], typer.Option(
        help="open on the sweeps screen with this sweep folder (repeat for several)")] = None,
) -> None:
    """The interactive dashboard: pick a recipe, watch runs live, replay and compare past runs,
    follow sweeps."""
    bad = [p for p in sweep or [] if not layout.is_sweep(p)]
    if bad:
        _err("; ".join(f"{p}: not a sweep folder (expected {layout.SWEEP_PLAN})" for p in bad))
        raise typer.Exit(2)
    if not recipes_dir.is_dir():
        _err(f"{recipes_dir}: no such folder of recipes (give one: lfm tui path/to/recipes)")
        raise typer.Exit(2)
    if runs_dir.exists() and not runs_dir.is_dir():
        _err(f"{runs_dir}: not a folder (--runs-dir is the parent folder of run folders)")
        raise typer.Exit(2)
    from lfm_tui.app import make_app  # Textual only for this command

    from lfm_tui.client import Launch

    make_app(recipes_dir, runs_dir, launch=Launch(nproc_per_node), sweep_dirs=sweep or []).run()


def main() -> None:
    app()


def tui_main() -> None:
    """`lfm-tui [RECIPES] [--runs-dir RUNS]`: the dashboard on its own."""
    typer.run(tui)
