"""Seeds and grids: the product of `--grid KEY=V1,V2` values and seeds, run one after another,
each in its own run folder under one sweep folder, then the comparison table. The plan, the
sweep folder and the loop that runs it live here; the CLI only parses and prints.

A sweep folder holds `sweep.json` (the plan), `base-recipe.toml` (a copy of the recipe, so
that the plan does not change when the file does), one folder per grid point with one run
folder per seed (`<point>/seed-<s>/`; without a grid, `seed-<s>/`), and `summary.{md,csv,json}` once runs have finished.
`lfm sweep --resume SWEEP_DIR` continues it: finished runs are skipped, stopped runs resume
from their checkpoint, runs that never reached one start again (the partial folder is kept,
renamed).
"""
from __future__ import annotations

import itertools
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine import layout
from engine import recipe as recipes

PLAN = layout.SWEEP_PLAN
BASE_RECIPE = layout.SWEEP_RECIPE


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

    @property
    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.values.items()] + [f"train.seed={self.seed}"]

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values.items()) or "recipe"


def parse_seeds(text: str) -> list[int]:
    """`0,1,2` (or `0-2`) into [0, 1, 2]."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise SweepError([f"--seeds {text!r}: expected non-negative integers such as 0,1,2 or 0-4"])
        seeds += list(range(int(m[1]), int(m[2] or m[1]) + 1))
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
    return str(raw.get("name") or Path(recipe_path).stem)


def folder_name(values: dict[str, str]) -> str:
    if not values:
        return ""  # no grid: the seed folders sit in the sweep folder itself
    text = ",".join(f"{k}={v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)[:200]


def plan(recipe_path: Path, overrides: list[str], grid: list[tuple[str, list[str]]],
         seeds: list[int]) -> list[Point]:
    """Every (seed, grid point), each validated with the recipe loader first: raises
    recipes.RecipeError naming the first grid point with problems."""
    points = []
    keys = [k for k, _ in grid]
    # every grid point with the first seed, then with the next: a sweep stopped early still
    # has every configuration
    for seed in seeds:
        for combo in itertools.product(*(v for _, v in grid)):
            values = dict(zip(keys, combo))
            p = Point(values, seed, folder_name(values))
            try:
                recipes.load(recipe_path, [*overrides, *p.overrides])
            except recipes.RecipeError as exc:
                where = f"grid point {p.label()}" if values else "recipe"
                raise recipes.RecipeError(f"{exc.source} ({where})", exc.problems) from None
            points.append(p)
    return points


def create(sweep_dir: Path, recipe_path: Path, overrides: list[str], grid, seeds: list[int],
           command: list[str]) -> dict:
    """Write the plan and the recipe copy into a new sweep folder."""
    if sweep_dir.exists() and any(sweep_dir.iterdir()):
        hint = f"; continue it with: lfm sweep --resume {sweep_dir}" if (sweep_dir / PLAN).is_file() else ""
        raise SweepError([f"{sweep_dir}: the sweep folder exists and is not empty{hint}"])
    name = recipe_name(recipe_path, overrides)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / BASE_RECIPE).write_text(recipe_path.read_text(encoding="utf-8"), encoding="utf-8")
    spec = {"recipe": str(recipe_path), "name": name, "overrides": overrides,
            "grid": [[k, v] for k, v in grid], "seeds": seeds, "command": command,
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    (sweep_dir / PLAN).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return spec


def load_plan(sweep_dir: Path) -> tuple[dict, Path, list[str], list[Point]]:
    """A sweep folder's plan: (spec, recipe copy, base overrides, points)."""
    try:
        spec = json.loads((sweep_dir / PLAN).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise SweepError([f"{sweep_dir}: not a sweep folder (expected {PLAN}, written by lfm sweep "
                          "or lfm run --seeds)"]) from None
    recipe_copy = sweep_dir / BASE_RECIPE
    overrides = [*spec["overrides"], f"name={spec['name']}"]
    points = plan(recipe_copy, overrides, [(k, v) for k, v in spec["grid"]], spec["seeds"])
    return spec, recipe_copy, overrides, points


def run_state(run_dir: Path) -> str:
    """'done', 'resume' (a checkpoint to continue from), 'partial' (nothing to continue) or 'new'."""
    return layout.run_state(run_dir)


def set_aside(run_dir: Path) -> Path:
    """A run that never reached a checkpoint: its folder kept, renamed `<name>.partial-<time>`."""
    kept = run_dir.with_name(f"{run_dir.name}.partial-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.rename(kept)
    return kept


def engine_args(recipe_copy: Path, overrides: list[str], point: Point, run_dir: Path, state: str) -> list[str]:
    """The engine's arguments for one point of the plan in `state` (see run_state)."""
    if state == "resume":
        return ["--resume", str(run_dir)]
    return [str(recipe_copy), *overrides, *point.overrides, "--run-dir", str(run_dir)]


def start(folder: Path, recipe: Path, overrides: list[str], grid_items: list[str], seeds: str,
          command: list[str], raw_events: bool, console) -> int:
    """A new sweep: its plan validated and written into `folder`, then run."""
    try:
        seed_list = parse_seeds(seeds)
        grid = parse_grid(grid_items)
        points = plan(recipe, overrides, grid, seed_list)
        create(folder, recipe, overrides, grid, seed_list, command)
    except (SweepError, recipes.RecipeError) as exc:
        return report_problem(exc, console)
    console.print(f"{len(points)} runs into {folder}")
    return run(folder, raw_events, console)


def report_problem(exc: Exception, console) -> int:
    """A sweep's bad input (its plan or a grid point's recipe): every problem, exit status 2."""
    text = exc.render() if isinstance(exc, recipes.RecipeError) else "\n".join(exc.problems)
    print(text, file=sys.stderr)
    return 2


def run(folder: Path, raw_events: bool, console) -> int:
    """Runs a sweep folder's plan, skipping finished runs and resuming stopped ones; then writes
    and prints its comparison table. Returns the exit status (130 when stopped)."""
    from lfm_tui import compare
    from lfm_tui.headless import print_table, run_headless

    try:
        spec, recipe_copy, overrides, points = load_plan(folder)
    except (SweepError, recipes.RecipeError) as exc:
        return report_problem(exc, console)
    failed, stopped = [], False
    for i, p in enumerate(points, 1):
        run_dir = folder / p.folder / f"seed-{p.seed}"
        state = run_state(run_dir)
        if state == "done":
            console.print(f"[dim][{i}/{len(points)}] {p.label()} seed {p.seed}: finished, skipped[/]")
            continue
        console.rule(f"[{i}/{len(points)}] {p.label()} seed {p.seed}" + (" (resumed)" if state == "resume" else ""))
        if state == "partial":
            set_aside(run_dir)
        try:
            code = run_headless(engine_args(recipe_copy, overrides, p, run_dir, state), raw_events=raw_events,
                                console=console)
        except KeyboardInterrupt:
            code = 130
        if code == 130:
            stopped = True
            break
        if code != 0:
            failed.append(f"{p.label()} seed {p.seed} (exit status {code}, {run_dir})")
    try:
        rows, runs = compare.compare([folder])
    except compare.CompareError:
        rows, runs = [], []
    if rows:
        title = f"{spec['name']}: test metrics, mean ± std over seeds"
        compare.write_outputs(folder / "summary", rows, runs,
                              title=f"# {title}\n\n`{' '.join(spec.get('command') or [])}`")
        if not raw_events:
            print_table(console, rows, title)
            console.print(f"summary      [bold]{folder / 'summary.md'}[/] (and .csv, .json)")
    if stopped:
        console.print(f"[yellow]stopped[/]: continue with [bold]lfm sweep --resume {folder}[/]")
        return 130
    if failed:
        console.print("[red]failed runs:[/]\n  " + "\n  ".join(failed))
        return 1
    return 0
