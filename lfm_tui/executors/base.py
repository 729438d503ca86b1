"""What every executor shares: the options of the command line (Options, checked by `check`),
the error of options that cannot work (OptionsError), what a sweep's runs came to (Report) and
the Executor every executor is: `prepare(folder)` (checks before the sweep folder is written:
devices, the cluster, a folder every node sees), `describe(n)`, `threads_per_run` (the CPU share
that becomes `train.threads`), `remote` (paths must be absolute), `run(tasks, console, title)`
returning a Report. The executors import this module; the factory (executors/__init__.py)
imports them."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from lfm_tui.executors.task import Task

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


class Executor(abc.ABC):
    remote: bool = False          # the run folders' paths are given absolute (another machine reads them)
    threads_per_run: int = 0      # the CPU share of a run (train.threads where the recipe leaves it at 0)

    @abc.abstractmethod
    def prepare(self, folder: Path) -> None:
        """Checks before the sweep folder is written; raises OptionsError."""

    @abc.abstractmethod
    def describe(self, n: int) -> str:
        """How `n` runs will execute, appended to the line announcing the sweep."""

    @abc.abstractmethod
    def run(self, tasks: list[Task], console, title: str) -> Report:
        """Runs (or submits) the tasks; returns the exit status of each."""
