"""The worker side of `--executor ray`: the Ray task of one run (its engine started, its lines
streamed back to the driver, stopped with a checkpoint when the sweep stops or the driver goes),
the actor the tasks ask whether the sweep is stopping, and the shared-folder probe run on every
node. The driver (executors/ray_driver.py) and the executor (executors/ray_cluster.py) import
this module; it imports neither.

Ray is imported here only, inside the task.
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from lfm_tui.executors.task import EngineProcess, Task

STOP_POLL_S = 0.2         # how often a task asks whether the sweep is stopping (seconds)


class Stopper:
    """A Ray actor the tasks ask whether the sweep is stopping."""

    def __init__(self) -> None:
        self.flag = False

    def stop(self) -> None:
        self.flag = True

    def requested(self) -> bool:
        return self.flag


def sees(path: str, token: str) -> tuple[bool, str]:
    """On a node: whether it sees the file the driver wrote (and its hostname)."""
    try:
        ok = Path(path).read_text(encoding="utf-8") == token
    except OSError:
        ok = False
    return ok, socket.gethostname()


def run_task(task: Task, stopper):
    """The Ray task of one run (a generator: what it yields streams back to the driver)."""
    import ray

    args = task.engine_args()
    if args is None:
        yield {"kind": "skip"}
        return
    yield {"kind": "start", "host": socket.gethostname(), "pid": os.getpid(), "resume": args[0] == "--resume"}
    proc = EngineProcess(task, args, events=True)
    proc.start()
    next_check = 0.0
    try:
        while True:
            code = proc.poll()   # once it is not None, every line has been read
            lines = proc.take_lines()
            if lines:
                yield {"kind": "lines", "lines": lines}
            if code is not None:
                break
            if not proc.interrupted and time.monotonic() >= next_check:
                next_check = time.monotonic() + STOP_POLL_S
                if ray.get(stopper.requested.remote()):
                    proc.interrupt()
            time.sleep(0.2)
    finally:
        if proc.poll() is None:   # the driver went away: stop with a checkpoint
            proc.stop()
    yield {"kind": "end", "code": code, "stderr": list(proc.stderr_tail), "stopped": proc.interrupted}
