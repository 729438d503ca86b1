"""Starts the engine as a subprocess and yields what it says: typed events from its stdout,
text lines from its stderr, and finally its exit code. Used by `lfm run` and the dashboard.

The engine runs in its own session (process group), so a Ctrl-C in the terminal reaches only
the client, which forwards one SIGINT (the engine then checkpoints and stops) and escalates to
SIGTERM and SIGKILL when asked again or on time-outs.
If the client dies without a word (SIGKILL), the kernel sends the engine (or torchrun, which
passes it on to its ranks) SIGHUP, and the engine stops with a checkpoint (engine/contract/lifeline.py):
no engine trains on, holding its run folder, for a client that is gone.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from typing import AsyncIterator, Sequence

from engine.contract import lifeline
from engine.contract.events import Event, LogLine, ProtocolError, parse_line

STREAM_LIMIT = 16 * 1024 * 1024  # bytes per line; asyncio's default of 64 KiB is too small


@dataclass
class Exited:
    """The engine process ended with this exit code."""
    code: int


@dataclass(frozen=True)
class Launch:
    """How many engine processes: one (plain `python -m engine`), or a torchrun world."""
    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str = ""  # HOST:PORT of node 0, for several machines

    @property
    def distributed(self) -> bool:
        return self.nproc_per_node > 1 or self.nnodes > 1


def engine_command(args: Sequence[str], python: str | None = None, launch: Launch | None = None) -> list[str]:
    py = python or sys.executable
    launch = launch or Launch()
    if not launch.distributed:
        return [py, "-m", "engine", *args]
    cmd = [py, "-m", "torch.distributed.run", f"--nproc-per-node={launch.nproc_per_node}"]
    if launch.nnodes > 1:
        host, _, port = launch.rdzv_endpoint.rpartition(":")
        cmd += [f"--nnodes={launch.nnodes}", f"--node-rank={launch.node_rank}",
                f"--master-addr={host}", f"--master-port={port}"]
    else:
        cmd += ["--standalone"]
    return [*cmd, "-m", "engine", *args]


class EngineClient:
    def __init__(self, args: Sequence[str], command: Sequence[str] | None = None,
                 cwd: str | None = None, env: dict | None = None, launch: Launch | None = None):
        """`args` go to `python -m engine` (under torchrun when `launch` asks for several
        processes); `command` replaces the whole command line (tests use it for fake engines)."""
        self.command = list(command) if command else engine_command(args, launch=launch)
        self.cwd, self.env = cwd, env
        self.proc: asyncio.subprocess.Process | None = None
        self.stop_sent = 0

    async def start(self) -> None:
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=STREAM_LIMIT, cwd=self.cwd, env=env,
            start_new_session=True, preexec_fn=lifeline.preexec(lifeline.ENGINE_SIGNAL))

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def events(self) -> AsyncIterator[Event | LogLine | Exited]:
        """Everything the engine says, stdout and stderr read at once, until it exits."""
        if self.proc is None:
            await self.start()
        assert self.proc and self.proc.stdout and self.proc.stderr
        queue: asyncio.Queue = asyncio.Queue()

        async def pump(reader: asyncio.StreamReader, name: str) -> None:
            while True:
                try:
                    raw = await reader.readline()
                except ValueError:  # a line beyond STREAM_LIMIT: drop it, keep reading
                    await queue.put(LogLine("(an over-long line from the engine was dropped)", name))
                    continue
                if not raw:
                    break
                text = raw.decode("utf-8", errors="replace")
                if name == "stderr":
                    await queue.put(LogLine(text.rstrip("\r\n"), "stderr"))
                    continue
                try:
                    item = parse_line(text)
                except ProtocolError as exc:
                    item = LogLine(f"protocol error: {exc}", "stderr")
                if item is not None:
                    await queue.put(item)
            await queue.put(name)

        tasks = [asyncio.create_task(pump(self.proc.stdout, "stdout")),
                 asyncio.create_task(pump(self.proc.stderr, "stderr"))]
        open_streams = 2
        try:
            while open_streams:
                item = await queue.get()
                if isinstance(item, str):
                    open_streams -= 1
                    continue
                yield item
            code = await self.proc.wait()
            yield Exited(code)
        finally:
            for t in tasks:
                t.cancel()

    def request_stop(self) -> str:
        """First call: SIGINT (finish the step, checkpoint, stop). Second: SIGTERM. Then SIGKILL.
        Returns what was sent."""
        if not self.running:
            return "none"
        self.stop_sent += 1
        sig = {1: signal.SIGINT, 2: signal.SIGTERM}.get(self.stop_sent, signal.SIGKILL)
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            return "none"
        return sig.name

    async def stop(self, grace: float = 30.0, term_grace: float = 5.0) -> int:
        """Stop and wait: SIGINT, then SIGTERM after `grace` seconds, SIGKILL after `term_grace`."""
        if not self.running:
            return self.proc.returncode if self.proc else 0
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, term_grace), (signal.SIGKILL, None)):
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                break
            try:
                return await asyncio.wait_for(self.proc.wait(), wait)
            except asyncio.TimeoutError:
                continue
        return await self.proc.wait()
