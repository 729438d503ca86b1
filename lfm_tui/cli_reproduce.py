"""`lfm reproduce`: one of the paper's tables or figures on the datasets given, as sweeps in one
folder, then the report beside the paper's numbers (lfm_tui/reproduce/). Registered on the app
of lfm_tui/cli_app.py."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.contract.errors import UserError
from engine.contract.outcome import EXIT_CANCELLED
from lfm_tui.cli_app import app, err

DEFAULT_ROOT = Path("runs") / "reproduce"


@app.command()
def reproduce(
    experiment: Annotated[Optional[str], typer.Argument(
        help="table1, table2, table3, table4, table5, fig2, fig3 or fig4")] = None,
    overrides: Annotated[Optional[list[str]], typer.Argument(
        help="key=value overrides for every run, e.g. train.epochs=5")] = None,
    data: Annotated[Optional[list[str]], typer.Option(
        help="NAME=PATH: a dataset of the paper in its folder (kinetics_sounds, cremad, vggsound, sarcasm, "
             "twitter2015, nvgesture), or NAME: a built-in one (emoji, mfeat, fashion, spoken_fashion); repeat for more. "
             "Default: the built-in datasets")] = None,
    seeds: Annotated[Optional[str], typer.Option(
        help="seeds of every row (default 0,1,2: the paper ran three)")] = None,
    rows: Annotated[Optional[str], typer.Option(
        help="only these rows, by the keys --dry-run shows (e.g. ours-h,ours-lb); default: every row")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="the reproduction folder (default runs/reproduce/<experiment>); the same command again continues it")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="continue this reproduction folder")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the runs, their count and a time estimate; run nothing")] = False,
    report_only: Annotated[bool, typer.Option("--report-only", help="write the report from the runs done so far")] = False,
    jobs: Annotated[int, typer.Option(help="runs at once (local: on this machine; ray, slurm: at most)")] = 1,
    executor: Annotated[str, typer.Option(help="local, ray or slurm (as lfm sweep)")] = "local",
    cpus_per_run: Annotated[Optional[int], typer.Option(help="CPU threads of each run")] = None,
    gpus_per_run: Annotated[Optional[int], typer.Option(help="GPUs of each run")] = None,
    address: Annotated[str, typer.Option(help="ray: the cluster to join")] = "",
    partition: Annotated[str, typer.Option(help="slurm: partition")] = "",
    time_limit: Annotated[str, typer.Option("--time", help="slurm: time limit per run")] = "",
    account: Annotated[str, typer.Option(help="slurm: account to charge")] = "",
    mem: Annotated[Optional[float], typer.Option(help="slurm: memory per run, GB")] = None,
    events: Annotated[bool, typer.Option("--events", help="print the raw JSON Lines event streams")] = False,
) -> None:
    """Reproduce one of the paper's tables or figures: its runs (the paper's settings per dataset,
    from the shipped recipes) as one sweep per dataset and row under one folder, then
    report.md with our mean ± std over seeds beside the paper's numbers, the difference and a
    verdict. Interrupted, the same command (or --resume FOLDER) continues."""
    options = dict(executor=executor, jobs=jobs, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                   address=address, slurm={"partition": partition, "time": time_limit, "account": account,
                                           "mem_gb": mem})
    try:
        _reproduce(experiment, overrides, data, seeds, rows, out, resume, dry_run, report_only, options, events)
    except KeyboardInterrupt:   # before the sweeps run (they stop themselves): one line and 130, not Aborted!
        err("interrupted: stopped before the runs started")
        raise typer.Exit(EXIT_CANCELLED) from None


def _reproduce(experiment, overrides, data, seeds, rows, out, resume, dry_run, report_only, how: dict,
               events: bool) -> None:
    from lfm_tui.executors.base import Options
    from lfm_tui.headless import make_console
    from lfm_tui.plan import SweepError, parse_seeds
    from lfm_tui.reproduce import planning, report, runner

    if dry_run and report_only:
        raise UserError("--dry-run and --report-only: give one of them")
    if resume is not None:
        if experiment is not None or overrides or data or out is not None or rows is not None or seeds is not None:
            raise UserError("--resume takes only the reproduction folder (and how to run it: --jobs, --executor, ...)")
        m = planning.read_manifest(resume)
        exp = planning.experiment(m["experiment"])
        folder, chosen, seed_list, extra, keys = resume, m["data"], m["seeds"], m["overrides"], m.get("rows", [])
        command = [str(c) for c in m.get("command") or []] if isinstance(m.get("command"), list) else []
    else:
        if experiment is None:
            raise UserError("give an experiment (table1 .. table5, fig2 .. fig4) or --resume FOLDER")
        exp = planning.experiment(experiment)
        try:
            seed_list = parse_seeds(seeds or "0,1,2")
        except SweepError as exc:
            raise UserError(str(exc)) from None
        chosen = planning.parse_data(data or [], exp)
        keys = planning.parse_rows(rows, exp) if rows is not None else []
        folder, extra = out or DEFAULT_ROOT / exp.name, list(overrides or [])
        command = ["lfm", *sys.argv[1:]] if sys.argv[1:] else ["lfm", "reproduce", exp.name]
    rep = planning.build(exp, chosen, seed_list, extra, folder, command, keys)
    if resume is None and planning.is_reproduction(folder):
        if not rep.same_request(planning.read_manifest(folder)):
            raise UserError(f"{folder}: holds another reproduction (see its {planning.MANIFEST}); "
                            "give another --out, or continue that one with lfm reproduce --resume "
                            f"{folder}")
    console = make_console()
    if dry_run:
        runner.print_plan(rep, console, how["jobs"])
        raise typer.Exit(0)
    if report_only:
        if not planning.is_reproduction(folder):
            raise UserError(f"{folder}: not a reproduction folder (expected {planning.MANIFEST})")
        report.write(rep, console)
        raise typer.Exit(0)
    if folder.exists() and not planning.is_reproduction(folder) and any(folder.iterdir()):
        raise UserError(f"{folder}: exists and is not a reproduction folder; give another --out")
    raise typer.Exit(runner.execute(rep, console, Options(**how), events))
