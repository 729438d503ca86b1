"""How a sweep's runs execute: one after another (the default), `--jobs N` at once on this
machine, as Ray tasks (`--executor ray`) or as a Slurm job array through submitit
(`--executor slurm`). Every executor runs the same engine command on the same run folder
(executors/task.py), so run folders, `lfm compare` and `lfm ensemble` do not depend on it, and
`lfm sweep --resume` continues a sweep with any of them. Ray and submitit are imported only by
the executor that uses them.

An executor: `prepare(folder)` (checks before the sweep folder is written: devices, the
cluster, a folder every node sees), `describe(n)`, `threads_per_run` (the CPU share that
becomes `train.threads`), `remote` (paths must be absolute), `run(tasks, console, title)`
returning a Report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine import recipe as recipes

EXECUTORS = ("local", "ray", "slurm")


class OptionsError(Exception):
    """Executor options that cannot work: one message per problem (exit status 2)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Options:
    executor: str = "local"
    jobs: int = 1                      # runs at once (local); at most this many at once (ray, slurm)
    cpus_per_run: int | None = None    # CPU threads (local), CPUs asked (ray, slurm)
    gpus_per_run: int | None = None    # GPUs each run gets
    address: str = ""                  # ray: the cluster to join
    slurm: dict = field(default_factory=dict)   # slurm: partition, time, account, mem_gb from the command line
    detach: bool = False               # slurm: submit and return


@dataclass
class Report:
    codes: dict[int, int] = field(default_factory=dict)   # task index -> exit status
    stopped: bool = False
    detached: bool = False


def check(options: Options, raw_events: bool) -> list[str]:
    o, problems = options, []
    if o.executor not in EXECUTORS:
        problems.append(f"--executor {o.executor!r}: expected one of {', '.join(EXECUTORS)}")
    if o.jobs < 1:
        problems.append(f"--jobs {o.jobs}: expected 1 or more")
    if o.cpus_per_run is not None and o.cpus_per_run < 1:
        problems.append(f"--cpus-per-run {o.cpus_per_run}: expected 1 or more")
    if o.gpus_per_run is not None and o.gpus_per_run < 0:
        problems.append(f"--gpus-per-run {o.gpus_per_run}: expected 0 or more")
    if o.address and o.executor != "ray":
        problems.append("--address is the Ray cluster to join: give it with --executor ray")
    if o.executor != "slurm":
        problems += [f"--{k.replace('_gb', '')} is a Slurm setting: give it with --executor slurm"
                     for k, v in o.slurm.items() if v not in (None, "")]
        if o.detach:
            problems.append("--detach returns once a Slurm job array is submitted: give it with --executor slurm")
    if raw_events and (o.executor != "local" or o.jobs > 1):
        problems.append("--events prints one engine's event stream: it works with --jobs 1 on this machine "
                        "(every run's events are in its run folder, events.jsonl)")
    return problems


def make(options: Options, raw_events: bool = False, slurm_table: dict | None = None):
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
