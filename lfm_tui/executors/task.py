"""One run of a sweep as every executor runs it: the task (picklable, so a Ray worker or a Slurm
job receives it whole), what to do with its run folder decided when it starts, and the engine as
a blocking subprocess for executors that run it away from `lfm` (Ray tasks, Slurm jobs).

What to do is read from the run folder at the moment the task starts (engine/contract/layout.py): a
finished run is skipped, a run with a checkpoint resumes from it, a run that never reached one
starts again (its partial folder kept, renamed). So a task that is retried after its node was
lost, or requeued by Slurm after a preemption, continues from its last checkpoint.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import layout  # Runs the engine in place of itself (exec), first asking the kernel to kill it when its parent
# dies (Linux), so that an engine never outlives a lost Ray worker or Slurm job and writes into
# a run folder that its retry is resuming. It ignores the Slurm preemption signal (USR2, which
# the job handles by stopping the engine with SIGINT), and takes SIGINT and SIGTERM as a plain
# process does: a Ray worker's thread blocks them, and a child inherits that.
GUARD = """import os, signal, sys
from engine.contract.lifeline import on_parent_death
parent = int(sys.argv[1])
on_parent_death(signal.SIGKILL)
if os.getppid() != parent:
    sys.exit(137)
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
os.execv(sys.executable, [sys.executable, "-m", "engine", *sys.argv[2:]])
"""


@dataclass(frozen=True)
class Task:
    index: int            # position in the plan, from 0
    label: str            # the grid point and seed, as the views show it
    run_dir: str          # the run folder
    args: list[str]       # the engine's arguments for a new run (recipe copy, overrides, --run-dir)
    threads: int = 0      # CPU threads of its share (OMP_NUM_THREADS for the engine); 0: default
    env: dict = field(default_factory=dict)   # more environment (CUDA_VISIBLE_DEVICES of a slot)

    def state(self) -> str:
        return layout.run_state(Path(self.run_dir))

    def engine_args(self) -> list[str] | None:
        """The engine's arguments for this run now: None when it has finished, `--resume` when
        it has a checkpoint, else a new run (a partial folder set aside first)."""
        state = self.state()
        if state == "done":
            return None
        if state == "resume":
            return ["--resume", self.run_dir]
        if state == "partial":
            set_aside(Path(self.run_dir))
        return list(self.args)

    def extra_env(self) -> dict[str, str]:
        """What the engine's environment adds: the slot's devices and the thread share."""
        threads = {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)} if self.threads else {}
        return {**self.env, **threads}

    def environment(self, extra: dict | None = None) -> dict:
        return {**os.environ, **self.extra_env(), **(extra or {}), "PYTHONUNBUFFERED": "1"}

    def with_env(self, **env: str) -> "Task":
        return Task(self.index, self.label, self.run_dir, self.args, self.threads, {**self.env, **env})


def set_aside(run_dir: Path) -> Path:
    """A run that never reached a checkpoint: its folder kept, renamed `<name>.partial-<time>`."""
    kept = run_dir.with_name(f"{run_dir.name}.partial-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.rename(kept)
    return kept


def guarded_command(args: list[str]) -> list[str]:
    """`python -m engine ARGS`, through GUARD: the engine dies with the process that starts it."""
    return [sys.executable, "-c", GUARD, str(os.getpid()), *args]


class EngineProcess:
    """The engine as a blocking subprocess in its own session (a signal to the job or the
    worker reaches it only through `interrupt`). With `events=True` its stdout lines are
    collected for `take_lines`; its stderr's last lines are kept (`stderr_tail`) either way,
    or passed through to this process's stderr with `events=False` (a Slurm job's log)."""

    def __init__(self, task: Task, args: list[str], events: bool = True, extra_env: dict | None = None):
        self.task, self.args = task, args
        self.events = events
        self.extra_env = extra_env
        self.proc: subprocess.Popen | None = None
        self.lines: collections.deque[str] = collections.deque()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self.readers: list[threading.Thread] = []
        self.interrupted = False

    def start(self) -> None:
        out = subprocess.PIPE if self.events else subprocess.DEVNULL
        err = subprocess.PIPE if self.events else None
        self.proc = subprocess.Popen(guarded_command(self.args), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, env=self.task.environment(self.extra_env),
                                     start_new_session=True, text=True, encoding="utf-8", errors="replace")
        if self.events:
            for stream, sink in ((self.proc.stdout, self.lines), (self.proc.stderr, self.stderr_tail)):
                t = threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
                t.start()
                self.readers.append(t)

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink.append(line.rstrip("\r\n"))

    def poll(self) -> int | None:
        """The exit code once the engine has exited and its output has been read; else None."""
        code = self.proc.poll() if self.proc else None
        if code is None:
            return None
        for t in self.readers:
            t.join(timeout=5)
        return code

    def take_lines(self) -> list[str]:
        out = []
        while self.lines:
            out.append(self.lines.popleft())
        return out

    def interrupt(self) -> None:
        """SIGINT: the engine finishes its step, writes a checkpoint and exits (130)."""
        if self.proc and self.proc.poll() is None:
            self.interrupted = True
            self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float | None = None, interval: float = 0.2) -> int | None:
        """Polls until the engine exits (never Popen.wait: a signal handler may call this while
        the job's main thread waits too). None when `timeout` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(interval)
        return code

    def stop(self, grace: float = 60.0) -> int:
        """SIGINT and wait `grace` seconds for the checkpoint; then SIGKILL."""
        self.interrupt()
        code = self.wait(grace)
        if code is None and self.proc is not None:
            self.proc.kill()
            code = self.wait(10)
        return code if code is not None else -signal.SIGKILL
