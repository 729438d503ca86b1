"""`--executor ray [--address ADDR]`: each run a Ray task asking `--cpus-per-run` CPUs and
`--gpus-per-run` GPUs (Ray sets CUDA_VISIBLE_DEVICES), its engine's events streamed back to this
process (a streaming generator) for the live view. The run folders must be on a path every node
sees: checked at start by a task on every node that looks for a file written here. A run whose
worker or node is lost is submitted again and resumes from its last checkpoint (the task decides
from the run folder; executors/task.py). Ctrl-C asks every task to stop its engine with a
checkpoint (again: the tasks are killed).

The task that runs on a node is executors/ray_task.py; the loop that submits and watches the
tasks is executors/ray_driver.py. Ray is imported only inside the functions that use it.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

from lfm_tui.executors.base import Executor, OptionsError, Report
from lfm_tui.executors.ray_task import sees
from lfm_tui.executors.reaper import Reaper
from lfm_tui.executors.task import Task

SHARED_CHECK_S = 120.0    # how long the shared-folder check waits for every node
CAPACITY_S = 10.0         # how often the cluster's resources are read again


def _ray():
    try:
        import ray
    except ImportError:
        raise OptionsError(["--executor ray needs Ray: pip install 'lfm-console[cluster]' (or pip install ray)"]) from None
    return ray


class RayExecutor(Executor):
    remote = True

    def __init__(self, options):
        self.options = options
        self.cpus = options.cpus_per_run or 1
        self.gpus = options.gpus_per_run or 0
        self.threads_per_run = self.cpus
        self.ray = None
        self.owns_ray = False
        self.reaper: Reaper | None = None
        self._capacity = (1, float("-inf"))   # (runs at once, when read)

    def prepare(self, folder: Path) -> None:
        self.ray = _ray()
        self._connect()
        try:
            check_shared(self.ray, Path(folder).resolve())
        except OptionsError:
            self.close()
            raise

    def _connect(self) -> None:
        """Joins the cluster at --address, or starts a Ray instance here that ends with `lfm`,
        even a killed one (executors/reaper.py)."""
        ray, address = self.ray, self.options.address
        if ray.is_initialized():
            return
        self.reaper = None if address else Reaper.start()
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")  # Ray's own lines plain: lfm colours its output itself
        try:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            self._stop_reaper()
            where = f"the Ray cluster at {address}" if address else "a new Ray instance here"
            raise OptionsError([f"--executor ray: could not start or join {where}: {exc}"]) from None
        self.owns_ray = True

    def _stop_reaper(self) -> None:
        if self.reaper is not None:
            self.reaper.stop()
            self.reaper = None

    def close(self) -> None:
        if self.owns_ray and self.ray is not None:
            self.ray.shutdown()
            self.owns_ray = False
        self._stop_reaper()

    def capacity(self) -> int:
        """Runs at once: --jobs when given, else what the cluster's resources hold (read again
        every CAPACITY_S seconds: a cluster may grow or shrink)."""
        if self.options.jobs > 1:
            return self.options.jobs
        now = time.monotonic()
        if now - self._capacity[1] > CAPACITY_S:
            res = self.ray.cluster_resources()
            n = int(res.get("CPU", 1) // self.cpus)
            if self.gpus:
                n = min(n, int(res.get("GPU", 0) // self.gpus))
            self._capacity = (max(1, n), now)
        return self._capacity[0]

    def describe(self, n: int) -> str:
        gpus = f", {self.gpus} GPU(s)" if self.gpus else ""
        nodes = sum(1 for node in self.ray.nodes() if node.get("Alive"))
        return f", Ray tasks of {self.cpus} CPU(s){gpus}, up to {min(n, self.capacity())} at a time on {nodes} node(s)"

    def run(self, tasks: list[Task], console, title: str) -> Report:
        from lfm_tui.executors.ray_driver import Driver

        try:
            return Driver(self, console, title).run(tasks)
        finally:
            self.close()


def check_shared(ray, folder: Path) -> None:
    """Raises OptionsError naming every live node that cannot see `folder` (made if absent,
    removed again when the check fails and it was made here)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    probe = folder / f".lfm-shared-{token}"
    probe.write_text(token, encoding="utf-8")
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    fn = ray.remote(sees)
    problem = ""
    try:
        refs = [fn.options(num_cpus=0, max_retries=0,
                           scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(str(probe), token) for n in nodes]
        problem = problem_of(folder, nodes, ray.get(refs, timeout=SHARED_CHECK_S))
    except ray.exceptions.GetTimeoutError:
        problem = f"{folder}: not every Ray node answered the shared-folder check within {SHARED_CHECK_S:.0f} s"
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        problem = f"the shared-folder check failed on a Ray node (is lfm installed on every node?): {first}"
    finally:
        probe.unlink(missing_ok=True)
    if problem:
        if made and not any(folder.iterdir()):
            folder.rmdir()
        raise OptionsError([problem])


def problem_of(folder: Path, nodes: list[dict], answers: list[tuple[bool, str]]) -> str:
    """The message for the nodes whose answer says they cannot see `folder` ('' when all can)."""
    blind = [f"{n.get('NodeManagerAddress', '?')} ({host})" for n, (ok, host) in zip(nodes, answers) if not ok]
    if not blind:
        return ""
    return (f"{folder}: not visible from Ray node(s) {', '.join(blind)}. The run folders must be on a path "
            "every node mounts (a shared file system); give one with --out or --runs-dir")
