"""How a sweep's runs execute: one after another (the default), `--jobs N` at once on this
machine, as Ray tasks (`--executor ray`) or as a Slurm job array through submitit
(`--executor slurm`). Every executor runs the same engine command on the same run folder
(executors/task.py), so run folders, `lfm compare` and `lfm ensemble` do not depend on it, and
`lfm sweep --resume` continues a sweep with any of them. Ray and submitit are imported only by
the executor that uses them.

This module is the factory: the executor the options name (`make`) and the recipe's Slurm
settings it may need (`slurm_table`). What executors share is executors/base.py.
"""
from __future__ import annotations

from pathlib import Path

from engine.contract import recipe as recipes
from lfm_tui.executors.base import Executor, Options, OptionsError, check


def make(options: Options, raw_events: bool = False, slurm_table: dict | None = None) -> Executor:
    """The executor of `options`; raises OptionsError naming every problem."""
    problems = check(options, raw_events)
    if problems:
        raise OptionsError(problems)
    if options.executor == "ray":
        from lfm_tui.executors.ray_cluster import RayExecutor

        return RayExecutor(options)
    if options.executor == "slurm":
        from lfm_tui.executors.slurm import SlurmExecutor

        return SlurmExecutor(options, slurm_table or {})
    from lfm_tui.executors.local import LocalExecutor

    return LocalExecutor(options, raw_events)


def slurm_table(recipe_path: Path) -> dict:
    """The recipe's `[sweep.slurm]` table (Slurm settings the command line can override), {}
    where it has none. The engine ignores a recipe's [sweep] table."""
    try:
        raw = recipes.read_toml(recipe_path)
    except recipes.RecipeError:
        return {}
    table = raw.get("sweep", {})
    table = table.get("slurm", {}) if isinstance(table, dict) else table
    if not isinstance(table, dict):
        raise OptionsError([f"{recipe_path}: [sweep.slurm] must be a table of Slurm settings"])
    return table
