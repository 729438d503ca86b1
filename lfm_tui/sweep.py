"""Seeds and grids: the product of `--grid KEY=V1,V2` values and seeds, run one after another,
each in its own run folder under one sweep folder, then the comparison table.

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
import time
from dataclasses import dataclass
from pathlib import Path

from engine import recipe as recipes

PLAN = "sweep.json"
BASE_RECIPE = "base-recipe.toml"


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
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            if json.loads(summary.read_text(encoding="utf-8")).get("status") == "ok":
                return "done"
        except (OSError, json.JSONDecodeError):
            pass
    if (run_dir / "checkpoints" / "last.pt").is_file() and (run_dir / "recipe.toml").is_file():
        return "resume"
    if run_dir.exists():
        return "partial"
    return "new"


def engine_args(recipe_copy: Path, overrides: list[str], point: Point, run_dir: Path) -> list[str]:
    state = run_state(run_dir)
    if state == "resume":
        return ["--resume", str(run_dir)]
    if state == "partial":
        run_dir.rename(run_dir.with_name(f"{run_dir.name}.partial-{time.strftime('%Y%m%d-%H%M%S')}"))
    return [str(recipe_copy), *overrides, *point.overrides, "--run-dir", str(run_dir)]
