"""Seeds and grids: the product of `--grid KEY=V1,V2` values and seeds, run one after another,
each in its own run folder under one sweep folder, then the comparison table. The plan, the
sweep folder and the loop that runs it live here; the CLI only parses and prints.

A sweep folder holds `sweep.json` (the plan), `base-recipe.toml` (a copy of the recipe, so
that the plan does not change when the file does), one folder per grid point with one run
folder per seed (`<point>/seed-<s>/`; without a grid, `seed-<s>/`), and `summary.{md,csv,json}` once runs have finished.
`lfm sweep --resume SWEEP_DIR` continues it: finished runs are skipped, stopped runs resume
from their checkpoint, runs that never reached one start again (the partial folder is kept,
renamed). How the runs execute (one after another, `--jobs N` at once, Ray, Slurm) is
lfm_tui/executors/; the run folders are the same whichever runs them.
"""
from __future__ import annotations

import itertools
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

from engine import layout
from engine import recipe as recipes
from engine import untrusted
from engine.outcome import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, sweep_resume_command, write_failure
from lfm_tui import executors
from lfm_tui.executors.task import Task

MAX_RUNS = 10_000  # runs in one sweep (grid points x seeds), counted before any is listed

class SweepError(Exception):
    """Bad seeds, grid or sweep folder: one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Point:
    values: dict[str, str]   # grid key -> value text
    seed: int
    folder: str              # the grid point's folder name
    threads: int = 0         # the resolved recipe's train.threads (0: the executor may set it)

    @property
    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.values.items()] + [f"train.seed={self.seed}"]

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values.items()) or "recipe"


def parse_seeds(text: str) -> list[int]:
    """`0,1,2` (or `0-2`) into [0, 1, 2]; more than MAX_RUNS seeds are refused before any is listed."""
    ranges: list[range] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d{1,30})(?:-(\d{1,30}))?", part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise SweepError([f"--seeds {text!r}: expected non-negative integers such as 0,1,2 or 0-4"])
        ranges.append(range(int(m[1]), int(m[2] or m[1]) + 1))
    count = sum(len(r) for r in ranges)
    if count > MAX_RUNS:
        raise SweepError([f"--seeds {text[:80]!r}: {count} seeds, more than the {MAX_RUNS} runs a sweep may hold"])
    seeds = [s for r in ranges for s in r]
    if len(set(seeds)) != len(seeds):
        raise SweepError([f"--seeds {text!r}: a seed is repeated"])
    return seeds


def split_values(text: str) -> list[str]:
    """Comma-separated values; commas inside [...] belong to a list value."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    grid, problems = [], []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        vals = split_values(values) if sep else []
        if not sep or not key or not all(vals):
            problems.append(f"--grid {item!r}: expected KEY=VALUE1,VALUE2,... such as method.name=concat,lfm")
        elif key in (k for k, _ in grid):
            problems.append(f"--grid {item!r}: {key} is already a grid key")
        elif key == "train.seed":
            problems.append(f"--grid {item!r}: give seeds with --seeds")
        else:
            grid.append((key, vals))
    if problems:
        raise SweepError(problems)
    return grid


def recipe_name(recipe_path: Path, overrides: list[str]) -> str:
    """The run name the recipe gives (a `name=` override, its `name`, else the file's stem),
    read without validating: the base recipe alone may need a grid value to be valid."""
    for o in reversed(overrides):
        key, _, value = o.partition("=")
        if key.strip() == "name" and value.strip():
            return value.strip().strip('"')
    raw = recipes.read_toml(recipe_path)
    return str(raw.get("name") or recipes.name_from_stem(Path(recipe_path).stem))


def folder_name(values: dict[str, str]) -> str:
    if not values:
        return ""  # no grid: the seed folders sit in the sweep folder itself
    text = ",".join(f"{k}={v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)[:200]


def check_size(grid: list[tuple[str, list[str]]], seeds: int) -> None:
    """Raises SweepError where the grid's points times `seeds` exceed MAX_RUNS (counted, not listed)."""
    count = seeds
    for _, values in grid:
        count *= len(values)
        if count > MAX_RUNS:
            break
    if count > MAX_RUNS:
        total = seeds
        for _, values in grid:
            total *= len(values)
        sizes = " x ".join([*(str(len(v)) for _, v in grid), f"{seeds} seeds"])
        raise SweepError([f"the sweep holds {total} runs ({sizes}), more than the {MAX_RUNS} a sweep may hold"])


def points(grid: list[tuple[str, list[str]]], seeds: list[int]) -> list[Point]:
    """The plan's points, in order, unvalidated: every grid point with the first seed, then
    with the next (a sweep stopped early still has every configuration)."""
    check_size(grid, len(seeds))
    keys = [k for k, _ in grid]
    out = []
    for seed in seeds:
        for combo in itertools.product(*(v for _, v in grid)):
            values = dict(zip(keys, combo))
            out.append(Point(values, seed, folder_name(values)))
    return out


def plan(recipe_path: Path, overrides: list[str], grid: list[tuple[str, list[str]]],
         seeds: list[int]) -> list[Point]:
    """Every (seed, grid point), each validated with the recipe loader first: raises
    recipes.RecipeError naming the first grid point with problems."""
    out = points(grid, seeds)
    for p in out:
        try:
            p.threads = recipes.load(recipe_path, [*overrides, *p.overrides]).train.threads
        except recipes.RecipeError as exc:
            where = f"grid point {p.label()}" if p.values else "recipe"
            raise recipes.RecipeError(f"{exc.source} ({where})", exc.problems) from None
    return out


def run_dir(sweep_dir: Path, point: Point) -> Path:
    return sweep_dir / point.folder / f"seed-{point.seed}"


def check_new(sweep_dir: Path) -> None:
    """A new sweep goes into a new or empty folder: the same folder is never started twice."""
    if sweep_dir.exists() and (not sweep_dir.is_dir() or any(sweep_dir.iterdir())):
        hint = f"; continue it with: {sweep_resume_command(sweep_dir)}" if (sweep_dir / layout.SWEEP_PLAN).is_file() else ""
        raise SweepError([f"{sweep_dir}: the sweep folder exists and is not empty{hint}"])


def create(sweep_dir: Path, recipe_path: Path, overrides: list[str], grid, seeds: list[int],
           command: list[str]) -> dict:
    """Write the plan and the recipe copy into a new sweep folder."""
    check_new(sweep_dir)
    name = recipe_name(recipe_path, overrides)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    # the recipe copy first, the plan last and both whole: a folder with a plan can be resumed
    layout.write_atomic(sweep_dir / layout.SWEEP_RECIPE, recipe_path.read_text(encoding="utf-8"))
    spec = {"recipe": str(recipe_path), "name": name, "overrides": overrides,
            "grid": [[k, v] for k, v in grid], "seeds": seeds, "command": command,
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    layout.write_atomic(sweep_dir / layout.SWEEP_PLAN, json.dumps(spec, indent=2) + "\n")
    return spec


def read_spec(sweep_dir: Path) -> dict:
    """sweep.json, checked for the shape lfm sweep writes: raises SweepError otherwise."""
    problem = [f"{sweep_dir}: not a sweep folder (expected {layout.SWEEP_PLAN}, written by lfm sweep or lfm run --seeds)"]
    path = Path(sweep_dir) / layout.SWEEP_PLAN
    try:
        spec = untrusted.read_json(path)
    except OSError:
        raise SweepError(problem) from None
    except ValueError as exc:  # not JSON, or past a limit (size, nesting, NaN)
        raise SweepError([f"{path}: damaged ({exc})"]) from None
    ok = (isinstance(spec, dict) and isinstance(spec.get("name"), str)
          and isinstance(spec.get("overrides"), list) and isinstance(spec.get("seeds"), list)
          and all(isinstance(x, int) for x in spec["seeds"]) and isinstance(spec.get("grid"), list)
          and all(isinstance(g, list) and len(g) == 2 and isinstance(g[1], list) for g in spec["grid"]))
    if not ok:
        raise SweepError([f"{sweep_dir}/{layout.SWEEP_PLAN}: damaged (not the plan lfm sweep writes)"])
    try:
        check_size(grid_of(spec), len(spec["seeds"]))
    except SweepError as exc:
        raise SweepError([f"{path}: {exc}"]) from None
    return spec


def grid_of(spec: dict) -> list[tuple[str, list[str]]]:
    return [(str(k), [str(x) for x in v]) for k, v in spec["grid"]]


def load_plan(sweep_dir: Path) -> tuple[dict, Path, list[str], list[Point]]:
    """A sweep folder's plan: (spec, recipe copy, base overrides, points)."""
    spec = read_spec(sweep_dir)
    recipe_copy = sweep_dir / layout.SWEEP_RECIPE
    overrides = [*spec["overrides"], f"name={spec['name']}"]
    return spec, recipe_copy, overrides, plan(recipe_copy, overrides, grid_of(spec), spec["seeds"])


def tasks(sweep_dir: Path, recipe_copy: Path, overrides: list[str], planned: list[Point],
          threads: int = 0) -> list[Task]:
    """One task per point: its run folder and the engine arguments of a new run. `threads`
    (the executor's CPU share per run) becomes `train.threads` where the recipe leaves it at 0."""
    out = []
    for i, p in enumerate(planned):
        share = [f"train.threads={threads}"] if threads and not p.threads else []
        folder = run_dir(sweep_dir, p)
        out.append(Task(i, f"{p.label()} seed {p.seed}", str(folder),
                        [str(recipe_copy), *overrides, *p.overrides, *share, "--run-dir", str(folder)], threads))
    return out


def report_problem(exc: Exception, console=None) -> int:
    """Bad input (the plan, a grid point's recipe, the executor's options): every problem on
    stderr, exit status 2."""
    if isinstance(exc, recipes.RecipeError):
        text = exc.render()
    else:
        text = "\n".join(getattr(exc, "problems", None) or [str(exc)])
    print(text, file=sys.stderr)
    return 2


def start(folder: Path, recipe: Path, overrides: list[str], grid_items: list[str], seeds: str,
          command: list[str], raw_events: bool, console, options: executors.Options | None = None,
          executor=None) -> int:
    """A new sweep: its plan validated, the executor checked (options, cluster, shared folder),
    the plan written into `folder`, then run (by `executor`, else the one `options` make)."""
    options = options or executors.Options()
    try:
        seed_list = parse_seeds(seeds)
        grid = parse_grid(grid_items)
        planned = plan(recipe, overrides, grid, seed_list)
        check_new(folder)
        executor = executor or executors.make(options, raw_events, slurm_table=executors.slurm_table(recipe))
        executor.prepare(folder)
        create(folder, recipe, overrides, grid, seed_list, command)
    except (SweepError, recipes.RecipeError, executors.OptionsError) as exc:
        return report_problem(exc, console)
    except OSError as exc:  # the sweep folder cannot be made or written (read-only, full)
        return report_problem(SweepError([write_failure(exc, None)]), console)
    console.print(f"{len(planned)} runs into {folder}" + executor.describe(len(planned)))
    return run(folder, raw_events, console, options, executor)


def run(folder: Path, raw_events: bool, console, options: executors.Options | None = None,
        executor=None) -> int:
    """Runs a sweep folder's plan with the executor of `options`, skipping finished runs and
    resuming stopped ones; then writes and prints its comparison table. Returns the exit
    status (130 when stopped, 1 when a run failed, 2 for bad input or a sweep folder that
    another `lfm sweep` is running: the folder is locked while this one runs it)."""
    try:
        lock = layout.FolderLock(folder).acquire() if folder.is_dir() else None
    except layout.FolderInUse as exc:
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
        spec, recipe_copy, overrides, planned = load_plan(folder)
        if executor is None:  # else start() made and checked it
            executor = executors.make(options or executors.Options(), raw_events,
                                      slurm_table=executors.slurm_table(recipe_copy))
            executor.prepare(folder)
    except (SweepError, recipes.RecipeError, executors.OptionsError) as exc:
        return report_problem(exc, console)
    base = folder.resolve() if executor.remote else folder
    todo = tasks(base, base / layout.SWEEP_RECIPE, overrides, planned, executor.threads_per_run)
    try:
        report = executor.run(todo, console, title=spec["name"])
    except executors.OptionsError as exc:   # a cluster refused the work (sbatch's message)
        return report_problem(exc, console)
    if report.detached:
        return 0
    write_summary(folder, spec, console, raw_events)
    failed = [f"{t.label} (exit status {report.codes[t.index]}, {t.run_dir})" for t in todo
              if report.codes.get(t.index) not in (None, EXIT_OK, EXIT_CANCELLED)]
    if report.stopped and any(report.codes.get(t.index) != EXIT_OK for t in todo):
        console.print(Text.assemble(("stopped", "yellow"), ": continue with ",
                                    (sweep_resume_command(folder), "bold")), soft_wrap=True)
        return EXIT_CANCELLED
    if failed:
        console.print(Text.assemble(("failed runs:", "red"), "\n  " + "\n  ".join(failed)))
        return EXIT_FAILED
    return EXIT_OK


def write_summary(folder: Path, spec: dict, console, raw_events: bool) -> None:
    """summary.{md,csv,json} of the finished runs, and the table printed."""
    from lfm_tui import compare
    from lfm_tui.headless import print_table

    try:
        rows, runs = compare.compare([folder])
    except compare.CompareError:
        return
    if not rows:
        return
    title = f"{spec['name']}: test metrics, mean ± std over seeds"
    compare.write_outputs(folder / "summary", rows, runs,
                          title=f"# {title}\n\n`{' '.join(spec.get('command') or [])}`")
    if not raw_events:
        print_table(console, rows, title)
        console.print(Text.assemble("summary      ", (str(folder / "summary.md"), "bold"), " (and .csv, .json)"))
