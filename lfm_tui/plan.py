"""A sweep's plan: the seeds and `--grid KEY=V1,V2` values parsed, the points they make (every
grid point with each seed), each point's folder, and the plan a sweep folder holds (sweep.json,
read once into a Plan). Bad input is a SweepError naming every problem.

A grid point's folder is its `key=value` pairs made safe for a file name and cut to
PREFIX_CHARS, then `-` and a hash of them all (`folder_name`): `method.name=lfm-0f5c7c55a6`. Two
grid points never share a folder, however long their values. Plans written before this name
their folders by the values alone, cut at 200 characters (`legacy_folder_name`); such a plan
whose grid points share a folder is refused rather than run or shown.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import layout
from engine.contract import writes
from engine.contract import recipe as recipes
from engine.contract import untrusted
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


def validated(recipe_path: Path, overrides: list[str], grid: list[tuple[str, list[str]]],
              seeds: list[int], naming: str = FOLDER_NAMING) -> list[Point]:
    """Every (seed, grid point), each validated with the recipe loader first: raises
    recipes.RecipeError naming the first grid point with problems."""
    from lfm_tui.compare import resolved_config   # the method registry, only once a plan is validated

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


@dataclass(frozen=True)
class Plan:
    """A sweep folder's sweep.json: what `lfm sweep` was asked to run."""
    name: str
    recipe: str                                # the recipe file given (its copy is SWEEP_RECIPE)
    overrides: list[str]
    grid: list[tuple[str, list[str]]]
    seeds: list[int]
    command: list[str] = field(default_factory=list)
    naming: str = FOLDER_NAMING                # FOLDER_NAMING, or "legacy" (plans written before it)
    created: str = ""

    @property
    def run_overrides(self) -> list[str]:
        """The overrides every run of the plan gets: the plan's, and its name."""
        return [*self.overrides, f"name={self.name}"]

    def points(self) -> list[Point]:
        """The plan's points, unvalidated (see `points`)."""
        return points(self.grid, self.seeds, self.naming)

    def to_json(self) -> dict:
        return {"recipe": self.recipe, "name": self.name, "overrides": self.overrides,
                "grid": [[k, v] for k, v in self.grid], "seeds": self.seeds, "command": self.command,
                "point_folders": self.naming, "created": self.created}

    @classmethod
    def read(cls, sweep_dir: Path) -> Plan:
        """sweep.json, checked for the shape lfm sweep writes: raises SweepError otherwise."""
        path = Path(sweep_dir) / layout.SWEEP_PLAN
        try:
            spec = untrusted.read_json(path)
        except OSError:
            raise SweepError([f"{sweep_dir}: not a sweep folder (expected {layout.SWEEP_PLAN}, "
                              "written by lfm sweep or lfm run --seeds)"]) from None
        except ValueError as exc:  # not JSON, or past a limit (size, nesting, NaN)
            raise SweepError([f"{path}: damaged ({exc})"]) from None
        ok = (isinstance(spec, dict) and isinstance(spec.get("name"), str)
              and isinstance(spec.get("overrides"), list) and isinstance(spec.get("seeds"), list)
              and all(isinstance(x, int) for x in spec["seeds"]) and isinstance(spec.get("grid"), list)
              and all(isinstance(g, list) and len(g) == 2 and isinstance(g[1], list) for g in spec["grid"]))
        if not ok:
            raise SweepError([f"{path}: damaged (not the plan lfm sweep writes)"])
        grid = [(str(k), [str(x) for x in v]) for k, v in spec["grid"]]
        try:
            check_size(grid, len(spec["seeds"]))
        except SweepError as exc:
            raise SweepError([f"{path}: {exc}"]) from None
        command = spec.get("command")
        return cls(name=spec["name"], recipe=str(spec.get("recipe", "")), overrides=[str(o) for o in spec["overrides"]],
                   grid=grid, seeds=list(spec["seeds"]),
                   command=[str(c) for c in command] if isinstance(command, list) else [],
                   naming=FOLDER_NAMING if spec.get("point_folders") == FOLDER_NAMING else "legacy",
                   created=str(spec.get("created", "")))

    def write(self, sweep_dir: Path) -> None:
        writes.write_atomic(Path(sweep_dir) / layout.SWEEP_PLAN, json.dumps(self.to_json(), indent=2) + "\n")


def new(recipe_path: Path, overrides: list[str], grid: list[tuple[str, list[str]]], seeds: list[int],
        command: list[str]) -> Plan:
    """The plan of a new sweep (named as its recipe names its runs)."""
    return Plan(recipe_name(recipe_path, overrides), str(recipe_path), overrides, grid, seeds, command,
                created=time.strftime("%Y-%m-%d %H:%M:%S"))


def load(sweep_dir: Path) -> tuple[Plan, list[Point]]:
    """A sweep folder's plan and its points, each validated against the folder's recipe copy."""
    spec = Plan.read(sweep_dir)
    copy = Path(sweep_dir) / layout.SWEEP_RECIPE
    return spec, validated(copy, spec.run_overrides, spec.grid, spec.seeds, spec.naming)
