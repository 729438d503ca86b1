"""Seeds and grids: the product of `--grid KEY=V1,V2` values and seeds, run one after another,
each in its own run folder under one sweep folder, then the comparison table. The plan, the
sweep folder and the loop that runs it live here; the CLI only parses and prints.

A sweep folder holds `sweep.json` (the plan), `base-recipe.toml` (a copy of the recipe, so
that the plan does not change when the file does), one folder per grid point with one run
folder per seed (`<point>/seed-<s>/`; without a grid, `seed-<s>/`), and `summary.{md,csv,json}` once runs have finished.
A grid point's folder is its `key=value` pairs made safe for a file name and cut to
PREFIX_CHARS, then `-` and a hash of them all (`folder_name`): `method.name=lfm-0f5c7c55a6`. Two
grid points never share a folder, however long their values. Plans written before this name
their folders by the values alone, cut at 200 characters (`legacy_folder_name`); such a plan
whose grid points share a folder is refused rather than run or shown.
`lfm sweep --resume SWEEP_DIR` continues it: finished runs are skipped, stopped runs resume
from their checkpoint, runs that never reached one start again (the partial folder is kept,
renamed). A run folder is skipped or resumed only where its recipe.toml is the planned
recipe: one holding another configuration stops the sweep with a message naming it. How the
runs execute (one after another, `--jobs N` at once, Ray, Slurm) is lfm_tui/executors/; the
run folders are the same whichever runs them.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text

from engine import layout
from engine import recipe as recipes
from engine import untrusted
from engine.outcome import (EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, exit_text, shown, sweep_resume_command,
                            write_failure)
from lfm_tui import executors
from lfm_tui.executors.task import Task

PREFIX_CHARS = 120     # of a grid point's folder name, before its hash
HASH_CHARS = 10        # hex digits of the hash of its values
FOLDER_NAMING = "values-hash"   # sweep.json `point_folders`: plans naming folders by folder_name
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
    config: dict[str, str] = field(default_factory=dict, repr=False)  # its resolved recipe, flat (plan)

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


def _readable(values: dict[str, str]) -> str:
    text = ",".join(f"{k}={v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)


def folder_name(values: dict[str, str]) -> str:
    """A grid point's folder: its values, readable and cut short, and a hash of them all."""
    if not values:
        return ""  # no grid: the seed folders sit in the sweep folder itself
    digest = hashlib.sha256("\n".join(f"{k}={v}" for k, v in values.items()).encode("utf-8")).hexdigest()
    return f"{_readable(values)[:PREFIX_CHARS]}-{digest[:HASH_CHARS]}"


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


def legacy_folder_name(values: dict[str, str]) -> str:
    """How plans written before `point_folders` named a grid point's folder (values alone)."""
    return _readable(values)[:200] if values else ""


def point_naming(spec: dict) -> str:
    """How a plan names its grid points' folders: FOLDER_NAMING, or "legacy" (older plans)."""
    return FOLDER_NAMING if spec.get("point_folders") == FOLDER_NAMING else "legacy"


def points(grid: list[tuple[str, list[str]]], seeds: list[int], naming: str = FOLDER_NAMING) -> list[Point]:
    """The plan's points, in order, unvalidated: every grid point with the first seed, then
    with the next (a sweep stopped early still has every configuration). Raises SweepError
    where two grid points would share a folder (an older plan's names, cut short), or where the
    sweep holds more than MAX_RUNS runs."""
    check_size(grid, len(seeds))
    keys = [k for k, _ in grid]
    name = folder_name if naming == FOLDER_NAMING else legacy_folder_name
    out = []
    for seed in seeds:
        for combo in itertools.product(*(v for _, v in grid)):
            values = dict(zip(keys, combo))
            out.append(Point(values, seed, name(values)))
    shared: dict[str, list[Point]] = {}
    for p in out[:len(out) // max(1, len(seeds))]:  # the grid points of the first seed
        shared.setdefault(p.folder, []).append(p)
    why = ("a hash collision: run the sweep again as a new sweep" if naming == FOLDER_NAMING else
           "this plan names folders by their values, cut at 200 characters: run the sweep again as a "
           "new sweep, which adds a hash of the values to every folder name")
    clashes = [ps for ps in shared.values() if len(ps) > 1]
    if clashes:
        raise SweepError([f"grid points {' and '.join(repr(p.label()) for p in ps)} share the folder "
                          f"{ps[0].folder!r}, so their runs cannot be told apart ({why})" for ps in clashes])
    return out


def plan(recipe_path: Path, overrides: list[str], grid: list[tuple[str, list[str]]],
         seeds: list[int], naming: str = FOLDER_NAMING) -> list[Point]:
    """Every (seed, grid point), each validated with the recipe loader first: raises
    recipes.RecipeError naming the first grid point with problems."""
    from lfm_tui.compare import resolved_config

    out = points(grid, seeds, naming)
    for p in out:
        try:
            r = recipes.load(recipe_path, [*overrides, *p.overrides])
        except recipes.RecipeError as exc:
            where = f"grid point {p.label()}" if p.values else "recipe"
            raise recipes.RecipeError(f"{exc.source} ({where})", exc.problems) from None
        p.threads = r.train.threads
        p.config = resolved_config(recipes.to_dict(r), str(recipe_path))
    return out


def run_dir(sweep_dir: Path, point: Point) -> Path:
    return sweep_dir / point.folder / f"seed-{point.seed}"


RECIPE_MAX_BYTES = 1 << 20   # a run folder's recipe.toml read back to check it


def foreign_run(sweep_dir: Path, point: Point) -> str:
    """Why the run folder of `point` is not its run, or "": a folder with a checkpoint or a
    result must hold the planned recipe (train.threads aside: how the run was executed) before
    it is resumed or skipped."""
    from lfm_tui.compare import resolved_config

    folder = run_dir(sweep_dir, point)
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
            "point_folders": FOLDER_NAMING, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
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
    return spec, recipe_copy, overrides, plan(recipe_copy, overrides, grid_of(spec), spec["seeds"],
                                              point_naming(spec))


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
        text = "\n".join(shown(p) for p in getattr(exc, "problems", None) or [str(exc)])
    print(text, file=sys.stderr)
    return 2


def start(folder: Path, recipe: Path, overrides: list[str], grid_items: list[str], seeds: str,
          command: list[str], raw_events: bool, console, options: executors.Options | None = None,
          executor=None, fresh: bool = False) -> int:
    """A new sweep: its plan validated, the executor checked (options, cluster, shared folder),
    the plan written into `folder`, then run (by `executor`, else the one `options` make).
    `fresh`: `folder` is a default name (`sweep-<time>`), made here once the plan is valid, with
    a suffix where another command took it in the same second (layout.new_folder)."""
    options = options or executors.Options()
    made = None
    try:
        seed_list = parse_seeds(seeds)
        grid = parse_grid(grid_items)
        planned = plan(recipe, overrides, grid, seed_list)
        if fresh:
            folder = made = layout.new_folder(folder)
        check_new(folder)
        executor = executor or executors.make(options, raw_events, slurm_table=executors.slurm_table(recipe))
        executor.prepare(folder)
        create(folder, recipe, overrides, grid, seed_list, command)
    except (SweepError, recipes.RecipeError, executors.OptionsError, OSError) as exc:
        if made is not None:
            with contextlib.suppress(OSError):
                made.rmdir()   # empty: nothing was written into it
        if isinstance(exc, OSError):  # the sweep folder cannot be made or written (read-only, full)
            exc = SweepError([write_failure(exc, None)])
        return report_problem(exc, console)
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
    except (layout.FolderInUse, layout.LinkRefused) as exc:
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
    foreign = [why for p in planned if (why := foreign_run(folder, p))]
    if foreign:
        return report_problem(SweepError(foreign), console)
    base = folder.resolve() if executor.remote else folder
    todo = tasks(base, base / layout.SWEEP_RECIPE, overrides, planned, executor.threads_per_run)
    try:
        report = executor.run(todo, console, title=spec["name"])
    except executors.OptionsError as exc:   # a cluster refused the work (sbatch's message)
        return report_problem(exc, console)
    if report.detached:
        return 0
    try:
        write_summary(folder, spec, console, raw_events)
    except layout.LinkRefused as exc:  # summary.md planted as a link: refused, the runs are written
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
