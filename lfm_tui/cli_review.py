"""The `lfm` commands that review finished runs: compare (the table), plot (figures, drawn by
lfm_plot in a child process), ensemble (late fusion of saved predictions, engine.ensemble in a
child process) and tensorboard (a server that stops with lfm). Registered on the app of
lfm_tui/cli_app.py."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.contract.errors import UserError
from engine.contract.outcome import EXIT_CANCELLED, EXIT_FAILED
from lfm_tui.cli_app import app, err as _err


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
        raise typer.Exit(EXIT_CANCELLED)


@app.command()
def compare(
    folders: Annotated[list[Path], typer.Argument(help="run folders, or folders holding them (a sweep)")],
    out: Annotated[Optional[Path], typer.Option(help="also write OUT.md, OUT.csv and OUT.json")] = None,
    title: Annotated[str, typer.Option(help="title of the table")] = "test metrics, mean ± std over seeds",
) -> None:
    """Print the comparison table of finished runs (mean ± std over seeds).

    Rows are configurations (runs differing only in the seed are grouped); columns fused ACC,
    MAP, macro-F1, each modality's ACC and the gap."""
    from rich.text import Text

    from lfm_tui import compare as cmp, compare_files

    try:
        rows, runs = cmp.compare(folders)
    except cmp.CompareError as exc:
        raise UserError(str(exc)) from None
    if not rows:
        raise UserError("no finished run among: " + ", ".join(f"{r.path} ({r.status})" for r in runs))
    from lfm_tui.headless import make_console, print_table

    console = make_console()  # in a file or a pipe: lines as wide as the table, never wrapped
    for note in cmp.same_run_notes(runs):  # paths are text, never markup
        console.print(Text.assemble(("copies: ", "yellow"), note), soft_wrap=True)
    print_table(console, rows, title)
    for r in runs:  # the user's notes on the runs of the table
        if r.status == "ok" and r.note:
            console.print(Text(f"note on {r.path}: {' '.join(r.note.split())}"), soft_wrap=True)
    skipped = [r for r in runs if r.status != "ok"]
    if skipped:  # paths and reasons are text, never markup
        console.print(Text.assemble(("not finished, left out: ", "yellow"),
                                    ", ".join(f"{r.path} ({r.status})" for r in skipped)))
    if out is not None:
        try:
            paths = compare_files.write_outputs(out, rows, runs, title=f"# {title}")
        except OSError as exc:
            _err(f"could not write {exc.filename or out}: {exc.strerror or exc}")
            raise typer.Exit(EXIT_FAILED)
        console.print(Text("written: " + ", ".join(str(p) for p in paths)))


@app.command()
def plot(
    folders: Annotated[Optional[list[Path]], typer.Argument(
        help="run folders, or folders holding them (a sweep)")] = None,
    source: Annotated[Optional[Path], typer.Option(
        "--from", help="draw again the figure of this JSON file (a curves.json or bars.json written beside one) "
                       "instead of reading runs: written as PREFIX + its name + .FORMAT")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="folder of the figures (default: the sweep or seed folder given alone; with --from, the "
             "JSON file's folder)")] = None,
    style: Annotated[str, typer.Option(
        help="draft (screen) or paper (8-point type, colour-blind-safe Okabe-Ito colours, PDF or 300 dpi)")] = "draft",
    fmt: Annotated[Optional[str], typer.Option(
        "--format", help="png, svg or pdf (default: png for draft, pdf for paper)")] = None,
    dpi: Annotated[Optional[int], typer.Option(help="pixels per inch of a PNG (default: 150 draft, 300 paper)")] = None,
    columns: Annotated[Optional[int], typer.Option(
        help="width of one (3.25 in) or two (6.75 in) columns of a paper; the height follows the content")] = None,
    size: Annotated[Optional[str], typer.Option(help="WxH in inches, e.g. 12x8 (default: from the panels and rows)")] = None,
    bars: Annotated[str, typer.Option(
        help="test ACC as bars (from zero), dots (mean and interval) or auto: dots where the rows differ by "
             "less than 10 points in a metric")] = "auto",
    figures: Annotated[str, typer.Option(help="curves, bars, or both: curves,bars")] = "curves,bars",
    prefix: Annotated[str, typer.Option(help="put before each file name, e.g. fashion_")] = "",
    label: Annotated[Optional[list[str]], typer.Option(
        help="FOLDER=TEXT: label the row of the runs at or below FOLDER (repeat for more rows)")] = None,
) -> None:
    """Figures of finished runs: curves (alpha, validation ACC fused and per modality, by epoch;
    mean over seeds with a band; alpha as steps) and bars (test ACC per configuration and metric,
    bars from zero or dots with intervals, error bars over seeds). --style paper: figures for
    print, one or two columns wide (--columns).

    Rows are those of `lfm compare`, labelled alike unless --label names them. Writes curves.FORMAT and bars.FORMAT, each beside a JSON
    file of the numbers drawn. Drawn by `python -m lfm_plot` (matplotlib) in a process of its own.

    --from FILE.json draws such a file's figure again, in the style asked for, without the runs."""
    args = [sys.executable, "-m", "lfm_plot", "--style", style, "--bars", bars, "--figures", figures,
            "--prefix", prefix, *(["--out", str(out)] if out is not None else []),
            *(["--from", str(source)] if source is not None else []),
            *(["--format", fmt] if fmt is not None else []), *(["--dpi", str(dpi)] if dpi is not None else []),
            *(["--columns", str(columns)] if columns is not None else []),
            *(["--size", size] if size is not None else []), *(f"--label={x}" for x in label or []),
            "--", *map(str, folders or [])]
    # lfm_plot lies beside lfm_tui; a child started from an editable install that predates it
    # would not find it without its folder on the path
    env = dict(os.environ)
    home = str(Path(__file__).resolve().parents[1])
    if home not in {str(Path(p or ".").resolve()) for p in sys.path}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
    try:
        raise typer.Exit(subprocess.call(args, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_CANCELLED)


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
        raise UserError(f"{runs}: no such folder")
    try:
        cmd = tb.command(runs, port, extra)
    except tb.TensorBoardError as exc:
        raise UserError(str(exc)) from None
    problem = tb.port_problem(cmd)
    if problem:
        raise UserError(problem)
    typer.echo(f"TensorBoard on {shlex.quote(str(runs))}: tensorboard {shlex.join(cmd[3:])} (Ctrl-C to stop)")
    raise typer.Exit(tb.serve(cmd))
