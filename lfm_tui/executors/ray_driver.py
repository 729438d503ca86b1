"""The driver side of `--executor ray`: tasks submitted in plan order as the cluster has room,
what each streams back (its engine's events) read on a thread per task and shown live, a run
whose worker or node was lost submitted again (it resumes from its checkpoint), and Ctrl-C:
first every task stops its engine with a checkpoint, then the tasks are killed."""
from __future__ import annotations

import collections
import queue
import signal
import threading
from typing import TYPE_CHECKING

from rich.live import Live

from engine.contract.events import LogLine, ProtocolError, parse_line
from engine.contract.outcome import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK
from lfm_tui.executors.base import Report
from lfm_tui.executors.ray_task import Stopper, run_task
from lfm_tui.executors.task import Task
from lfm_tui.executors.view import SweepView

if TYPE_CHECKING:
    from lfm_tui.executors.ray_cluster import RayExecutor

MAX_RESTARTS = 3          # times a run is submitted again after its worker or node was lost


class Driver:
    """Submits tasks in plan order as capacity frees, reads what they stream back on one thread
    each, and shows it; resubmits a run whose worker was lost."""

    def __init__(self, executor: RayExecutor, console, title: str):
        self.ex, self.ray, self.console, self.title = executor, executor.ray, console, title
        self.items: queue.Queue = queue.Queue()
        self.in_flight: dict[int, tuple[Task, object]] = {}
        self.restarts: collections.Counter = collections.Counter()
        self.interrupts = self.handled = 0
        self.report = Report()

    def run(self, tasks: list[Task]) -> Report:
        ray = self.ray
        self.view = SweepView(self.console, len(tasks), self.title)
        self.stopper = ray.remote(num_cpus=0)(Stopper).remote()
        self.fn = ray.remote(num_cpus=self.ex.cpus, num_gpus=self.ex.gpus, max_retries=0,
                             num_returns="streaming")(run_task)
        pending = collections.deque(tasks)
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            with Live(self.view, console=self.console, refresh_per_second=4, transient=True):
                while (pending and not self.interrupts) or self.in_flight:
                    self._escalate()
                    if self.interrupts >= 3:
                        break
                    while pending and not self.interrupts and len(self.in_flight) < self.ex.capacity():
                        self._submit(pending.popleft())
                    try:
                        index, item = self.items.get(timeout=0.25)
                    except queue.Empty:
                        continue
                    self._handle(index, item, pending)
        finally:
            signal.signal(signal.SIGINT, previous)
        self.report.stopped = self.interrupts > 0
        return self.report

    def _on_sigint(self, signum, frame) -> None:
        self.interrupts += 1

    def _escalate(self) -> None:
        if self.interrupts == self.handled:
            return
        self.handled = self.interrupts
        if self.interrupts == 1:
            self.console.print("[yellow]stopping every run after its current step, with a checkpoint "
                               "(Ctrl-C again: kill the tasks)[/]")
            self.stopper.stop.remote()
        elif self.interrupts == 2:
            self.console.print("[red]killing the tasks[/]")
            for _, gen in self.in_flight.values():
                self.ray.cancel(gen, force=True)

    def _submit(self, task: Task) -> None:
        gen = self.fn.remote(task, self.stopper)
        self.in_flight[task.index] = (task, gen)
        threading.Thread(target=self._consume, args=(task.index, gen), daemon=True).start()

    def _consume(self, index: int, gen) -> None:
        try:
            for ref in gen:
                self.items.put((index, self.ray.get(ref)))
            self.items.put((index, {"kind": "gone"}))
        except Exception as exc:  # the worker or node was lost, or the task was killed or failed
            self.items.put((index, {"kind": "error", "error": exc}))

    def _handle(self, index: int, item: dict, pending: collections.deque) -> None:
        task = self.in_flight[index][0] if index in self.in_flight else None
        if task is None:
            return
        kind = item["kind"]
        if kind == "start":
            self.view.start(task, item["host"], "resumed from its checkpoint" if item["resume"] else "")
        elif kind == "lines":
            for line in item["lines"]:
                try:
                    ev = parse_line(line)
                except ProtocolError as exc:
                    ev = LogLine(f"protocol error: {exc}", "stderr")
                if ev is not None:
                    self.view.feed(index, ev)
        elif kind == "skip":
            self.view.skipped(task)
            self.report.codes[index] = EXIT_OK
        elif kind == "end":
            status = self.view.end(task, item["code"], item["stderr"], stopped=item["stopped"])
            self.report.codes[index] = {"ok": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(status, EXIT_FAILED)
        elif kind == "gone":
            self.in_flight.pop(index, None)
        elif kind == "error":
            self.in_flight.pop(index, None)
            self._failed(task, item["error"], pending)

    def _failed(self, task: Task, exc: Exception, pending: collections.deque) -> None:
        ray = self.ray
        lost = not isinstance(exc, (ray.exceptions.RayTaskError, ray.exceptions.TaskCancelledError))
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        if lost and not self.interrupts and self.restarts[task.index] < MAX_RESTARTS:
            self.restarts[task.index] += 1
            self.view.live.pop(task.index, None)
            self.console.print(f"[yellow][{task.index + 1}/{self.view.total}] {task.label}: its worker was lost "
                               f"({type(exc).__name__}); submitted again, it resumes from its last checkpoint[/]")
            pending.appendleft(task)
            return
        stopped = self.interrupts > 0
        self.view.end(task, EXIT_CANCELLED if stopped else EXIT_FAILED, [reason], stopped=stopped)
        self.report.codes[task.index] = EXIT_CANCELLED if stopped else EXIT_FAILED
