"""A sweep run: the runs of a plan (lfm_tui/plan.py: seeds, grid, points, sweep.json) executed
one after another, each in its own run folder under one sweep folder, then the comparison
table. The CLI only parses and prints.

A sweep folder holds `sweep.json` (the plan), `base-recipe.toml` (a copy of the recipe, so
that the plan does not change when the file does), one folder per grid point with one run
folder per seed (`<point>/seed-<s>/`; without a grid, `seed-<s>/`), and `summary.{md,csv,json}`
once runs have finished.
`lfm sweep --resume SWEEP_DIR` continues it: finished runs are skipped, stopped runs resume
from their checkpoint, runs that never reached one start again (the partial folder is kept,
renamed). A run folder is skipped or resumed only where its recipe.toml is the planned
recipe: one holding another configuration stops the sweep with a message naming it. How the
runs execute (one after another, `--jobs N` at once, Ray, Slurm) is lfm_tui/executors/; the
run folders are the same whichever runs them.
"""
from __future__ import annotations

import contextlib
import sys
import tomllib
from pathlib import Path

from rich.text import Text

from engine.contract import layout
from engine.contract import writes
from engine.contract import folder_lock
from engine.contract import recipe as recipes
from engine.contract.outcome import (EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, exit_text, shown,
                            sweep_resume_command, write_failure)
from lfm_tui import executors
from lfm_tui import plan as plans
from lfm_tui.executors.base import Options, OptionsError
from lfm_tui.executors.task import Task
from lfm_tui.plan import Point, SweepError

RECIPE_MAX_BYTES = 1 << 20   # a run folder's recipe.toml read back to check it


def foreign_run(sweep_dir: Path, point: Point) -> str:
    """Why the run folder of `point` is not its run, or "": a folder with a checkpoint or a
    result must hold the planned recipe (train.threads aside: how the run was executed) before
    it is resumed or skipped."""
    from lfm_tui.compare import resolved_config

    folder = plans.run_dir(sweep_dir, point)
    if layout.run_state(folder) not in ("done", "resume"):
        return ""  # nothing there to skip or continue: a partial folder is set aside
    where = f"{folder}/{layout.RECIPE}"
    try:
        with open(folder / layout.RECIPE, "rb") as fh:
            data = fh.read(RECIPE_MAX_BYTES + 1)
        if len(data) > RECIPE_MAX_BYTES:
            raise ValueError(f"larger than {RECIPE_MAX_BYTES} bytes")
        stored = resolved_config(tomllib.loads(data.decode("utf-8")), where)
    except (OSError, ValueError, RecursionError) as exc:   # RecursionError: nesting too deep
        return f"{where}: unreadable ({exc}), so not known to be the run of {point.label()} seed {point.seed}"
    keys = sorted(k for k in {*stored, *point.config} - {"train.threads"} if stored.get(k) != point.config.get(k))
    if not keys:
        return ""
    shown = "; ".join(f"{_cut(k)}: {_cut(stored.get(k, '(absent)'))} there, "
                      f"{_cut(point.config.get(k, '(absent)'))} planned" for k in keys[:3])
    shown += "; ..." if len(keys) > 3 else ""
    return (f"{folder}: holds a run of another configuration than {point.label()} seed {point.seed} "
            f"({shown}); move it out of the sweep folder, then continue with: {sweep_resume_command(sweep_dir)}")


def _cut(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def check_new(sweep_dir: Path) -> None:
    """A new sweep goes into a new or empty folder: the same folder is never started twice."""
    if sweep_dir.exists() and (not sweep_dir.is_dir() or any(sweep_dir.iterdir())):
        hint = f"; continue it with: {sweep_resume_command(sweep_dir)}" if (sweep_dir / layout.SWEEP_PLAN).is_file() else ""
        raise SweepError([f"{sweep_dir}: the sweep folder exists and is not empty{hint}"])


def create(sweep_dir: Path, recipe_path: Path, overrides: list[str], grid: list[tuple[str, list[str]]],
           seeds: list[int], command: list[str]) -> plans.Plan:
    """A new sweep folder: the recipe copy first, the plan last and both whole (a folder with a
    plan can be resumed)."""
    check_new(sweep_dir)
    spec = plans.new(recipe_path, overrides, grid, seeds, command)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    writes.write_atomic(sweep_dir / layout.SWEEP_RECIPE, recipe_path.read_text(encoding="utf-8"))
    spec.write(sweep_dir)
    return spec


def tasks(sweep_dir: Path, recipe_copy: Path, overrides: list[str], planned: list[Point],
          threads: int = 0) -> list[Task]:
    """One task per point: its run folder and the engine arguments of a new run. `threads`
    (the executor's CPU share per run) becomes `train.threads` where the recipe leaves it at 0."""
    out = []
    for i, p in enumerate(planned):
        share = [f"train.threads={threads}"] if threads and not p.threads else []
        folder = plans.run_dir(sweep_dir, p)
        out.append(Task(i, f"{p.label()} seed {p.seed}", str(folder),
                        [str(recipe_copy), *overrides, *p.overrides, *share, "--run-dir", str(folder)], threads))
    return out


def report_problem(exc: Exception, console=None) -> int:
    """Bad input (the plan, a grid point's recipe, the executor's options): every problem on
    stderr, exit status 2."""
    if isinstance(exc, recipes.RecipeError):
        text = exc.render()
    else:
        text = "\n".join(shown(p) for p in getattr(exc, "problems", None) or [str(exc)])
    print(text, file=sys.stderr)
    return EXIT_USAGE


def start(folder: Path, recipe: Path, overrides: list[str], grid_items: list[str], seeds: str,
          command: list[str], raw_events: bool, console, options: Options | None = None,
          executor=None, fresh: bool = False) -> int:
    """A new sweep: its plan validated, the executor checked (options, cluster, shared folder),
    the plan written into `folder`, then run (by `executor`, else the one `options` make).
    `fresh`: `folder` is a default name (`sweep-<time>`), made here once the plan is valid, with
    a suffix where another command took it in the same second (layout.new_folder)."""
    options = options or Options()
    made = None
    try:
        seed_list = plans.parse_seeds(seeds)
        grid = plans.parse_grid(grid_items)
        planned = plans.validated(recipe, overrides, grid, seed_list)
        if fresh:
            folder = made = layout.new_folder(folder)
        check_new(folder)
        executor = executor or executors.make(options, raw_events, slurm_table=executors.slurm_table(recipe))
        executor.prepare(folder)
        create(folder, recipe, overrides, grid, seed_list, command)
    except (SweepError, recipes.RecipeError, OptionsError, OSError) as exc:
        if made is not None:
            with contextlib.suppress(OSError):
                made.rmdir()   # empty: nothing was written into it
        if isinstance(exc, OSError):  # the sweep folder cannot be made or written (read-only, full)
            exc = SweepError([write_failure(exc, None)])
        return report_problem(exc, console)
    console.print(f"{len(planned)} runs into {folder}" + executor.describe(len(planned)))
    return run(folder, raw_events, console, options, executor)


def run(folder: Path, raw_events: bool, console, options: Options | None = None,
        executor=None) -> int:
    """Runs a sweep folder's plan with the executor of `options`, skipping finished runs and
    resuming stopped ones; then writes and prints its comparison table. Returns the exit
    status (130 when stopped, 1 when a run failed, 2 for bad input or a sweep folder that
    another `lfm sweep` is running: the folder is locked while this one runs it)."""
    try:
        lock = folder_lock.FolderLock(folder).acquire() if folder.is_dir() else None
    except (folder_lock.FolderInUse, writes.LinkRefused) as exc:
        return report_problem(SweepError([str(exc)]), console)
    except OSError as exc:  # a read-only or full sweep folder: nothing has run
        return report_problem(SweepError([write_failure(exc, None, sweep_resume_command(folder))]), console)
    try:
        return _run(folder, raw_events, console, options, executor)
    except OSError as exc:  # mid-sweep (its summary, a run folder): what ran is kept
        print(f"error: {write_failure(exc, None, sweep_resume_command(folder))}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if lock is not None:
            lock.release()


def _run(folder: Path, raw_events: bool, console, options, executor) -> int:
    try:
        spec, planned = plans.load(folder)
        if executor is None:  # else start() made and checked it
            executor = executors.make(options or Options(), raw_events,
                                      slurm_table=executors.slurm_table(folder / layout.SWEEP_RECIPE))
            executor.prepare(folder)
    except (SweepError, recipes.RecipeError, OptionsError) as exc:
        return report_problem(exc, console)
    foreign = [why for p in planned if (why := foreign_run(folder, p))]
    if foreign:
        return report_problem(SweepError(foreign), console)
    base = folder.resolve() if executor.remote else folder
    todo = tasks(base, base / layout.SWEEP_RECIPE, spec.run_overrides, planned, executor.threads_per_run)
    try:
        report = executor.run(todo, console, title=spec.name)
    except OptionsError as exc:   # a cluster refused the work (sbatch's message)
        return report_problem(exc, console)
    if report.detached:
        return EXIT_OK
    try:
        write_summary(folder, spec, console, raw_events)
    except writes.LinkRefused as exc:  # summary.md planted as a link: refused, the runs are written
        report_problem(exc, console)
    failed = [f"{shown(t.label)} ({exit_text(report.codes[t.index])}, {shown(t.run_dir)})" for t in todo
              if report.codes.get(t.index) not in (None, EXIT_OK, EXIT_CANCELLED)]
    if report.stopped and any(report.codes.get(t.index) != EXIT_OK for t in todo):
        console.print(Text.assemble(("stopped", "yellow"), ": continue with ",
                                    (sweep_resume_command(folder), "bold")), soft_wrap=True)
        return EXIT_CANCELLED
    if failed:
        console.print(Text.assemble(("failed runs:", "red"), "\n  " + "\n  ".join(failed)))
        return EXIT_FAILED
    return EXIT_OK


def write_summary(folder: Path, spec: plans.Plan, console, raw_events: bool) -> None:
    """summary.{md,csv,json} of the finished runs, and the table printed."""
    from lfm_tui import compare, compare_files
    from lfm_tui.headless import print_table

    try:
        rows, runs = compare.compare([folder])
    except compare.CompareError:
        return
    if not rows:
        return
    title = f"{spec.name}: test metrics, mean ± std over seeds"
    compare_files.write_outputs(folder / "summary", rows, runs,
                          title=f"# {title}\n\n`{' '.join(spec.command)}`")
    if not raw_events:
        print_table(console, rows, title)
        console.print(Text.assemble("summary      ", (str(folder / "summary.md"), "bold"), " (and .csv, .json)"))


def print_status(folder: Path, console) -> int:
    """`lfm sweep --status FOLDER`: the status table; exit status 2 for a folder that is not a
    sweep."""
    from lfm_tui.executors.view import status_table
    from lfm_tui.sweep_status import SweepStatus

    try:
        status = SweepStatus(folder)
    except SweepError as exc:
        return report_problem(exc)
    rows = status.refresh()
    console.print(status_table(rows, [k for k, _ in status.grid], f"{status.name}: {folder}"))
    return EXIT_OK
