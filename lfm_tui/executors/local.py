"""Runs on this machine: one after another under `lfm run`'s live view (`--jobs 1`, the
default), or `--jobs N` at once, each in its slot (its share of the CPU threads and, where
there are GPUs, its own devices), started in plan order. Ctrl-C stops every running run after
its current step with a checkpoint (again: SIGTERM, then SIGKILL) and starts no more."""
from __future__ import annotations

import asyncio
import collections
import signal

from rich.live import Live

from engine.contract.events import Event
from engine.contract.outcome import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK
from lfm_tui.client import EngineClient, Exited
from lfm_tui.executors import resources
from lfm_tui.executors.base import Executor, OptionsError, Report
from lfm_tui.executors.task import Task
from lfm_tui.executors.view import SweepView

STATUS_EXIT = {"ok": EXIT_OK, "cancelled": EXIT_CANCELLED}


class LocalExecutor(Executor):
    remote = False

    def __init__(self, options, raw_events: bool = False):
        self.jobs, self.raw_events = options.jobs, raw_events
        try:
            self.slots = resources.slots(options.jobs, options.cpus_per_run, options.gpus_per_run)
        except ValueError as exc:
            raise OptionsError([str(exc)]) from None
        self.threads_per_run = self.slots[0].threads

    def prepare(self, folder) -> None:
        """Nothing to check beyond the slots, made with the executor."""

    def describe(self, n: int) -> str:
        if self.jobs == 1:
            return ""
        slot = self.slots[0]
        gpus = "" if slot.gpus is None else f", {len(slot.gpus)} GPU(s)" if slot.gpus else ", no GPU"
        return f", {min(self.jobs, n)} at a time ({slot.threads} CPU thread(s){gpus} each)"

    def run(self, tasks: list[Task], console, title: str) -> Report:
        if self.jobs == 1:
            return self._sequential(tasks, console)
        return asyncio.run(Parallel(self.slots, console, title).run(tasks))

    def _sequential(self, tasks: list[Task], console) -> Report:
        from lfm_tui.headless import run_headless

        report, slot = Report(), self.slots[0]
        for t in tasks:
            n = f"[{t.index + 1}/{len(tasks)}]"
            args = t.engine_args()
            if args is None:
                console.print(f"[dim]{n} {t.label}: finished, skipped[/]")
                report.codes[t.index] = EXIT_OK
                continue
            console.rule(f"{n} {t.label}" + (" (resumed)" if args[0] == "--resume" else ""))
            try:
                code = run_headless(args, raw_events=self.raw_events, console=console,
                                    env=t.with_env(**slot.env()).extra_env())
            except KeyboardInterrupt:
                code = EXIT_CANCELLED
            report.codes[t.index] = code
            if code == EXIT_CANCELLED:
                report.stopped = True
                break
        return report


class Parallel:
    """`--jobs N`: a worker per slot takes the next task of the plan until none is left."""

    def __init__(self, slots: list[resources.Slot], console, title: str):
        self.slots, self.console = slots, console
        self.title = title
        self.clients: dict[int, EngineClient] = {}
        self.stops = 0
        self.report = Report()

    async def run(self, tasks: list[Task]) -> Report:
        self.view = SweepView(self.console, len(tasks), self.title)
        queue = collections.deque(tasks)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        try:
            with Live(self.view, console=self.console, refresh_per_second=4, transient=True):
                await asyncio.gather(*(self._worker(slot, queue) for slot in self.slots))
        finally:
            loop.remove_signal_handler(signal.SIGINT)
        self.report.stopped = self.stops > 0
        return self.report

    def _on_sigint(self) -> None:
        self.stops += 1
        for client in list(self.clients.values()):
            client.request_stop()
        what = {1: "stopping every run after its current step, with a checkpoint (Ctrl-C again: SIGTERM)",
                2: "SIGTERM sent (Ctrl-C again: SIGKILL)"}.get(self.stops, "SIGKILL sent")
        self.console.print(f"[yellow]{what}[/]")

    async def _worker(self, slot: resources.Slot, queue: collections.deque) -> None:
        while queue and not self.stops:
            task = queue.popleft().with_env(**slot.env())
            args = task.engine_args()
            if args is None:
                self.view.skipped(task)
                self.report.codes[task.index] = EXIT_OK
                continue
            self.report.codes[task.index] = await self._drive(task, args, slot)

    async def _drive(self, task: Task, args: list[str], slot: resources.Slot) -> int:
        self.view.start(task, slot.where(), "resumed from its checkpoint" if args[0] == "--resume" else "")
        client = EngineClient(args, env=task.extra_env())
        await client.start()
        self.clients[task.index] = client
        for _ in range(self.stops):  # a Ctrl-C while it was starting
            client.request_stop()
        code = EXIT_FAILED
        try:
            async for item in client.events():
                if isinstance(item, Exited):
                    code = item.code
                elif isinstance(item, Event) or item.stream == "stderr":
                    self.view.feed(task.index, item)
        finally:
            self.clients.pop(task.index, None)
        status = self.view.end(task, code, stopped=bool(client.stop_sent))
        return STATUS_EXIT.get(status, code if code not in (EXIT_OK, EXIT_CANCELLED) else EXIT_FAILED)
