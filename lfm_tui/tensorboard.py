"""`lfm tensorboard`: TensorBoard on a run folder as a child process that never outlives `lfm`.

TensorBoard's own options are passed through. SIGTERM, SIGINT and SIGHUP of `lfm` stop the
child (SIGTERM, then SIGKILL after a grace period) before `lfm` exits; on Linux the child also
gets SIGTERM from the kernel when `lfm` dies without running any handler (PR_SET_PDEATHSIG).
A port already in use is refused before TensorBoard starts (exit status 2); whatever way it ends,
`lfm tensorboard` exits with a status of engine/contract/outcome.py: 0, 1, 2 or 130.
"""
from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
from pathlib import Path

from engine.contract import lifeline
from engine.contract.outcome import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE

GRACE_S = 10.0          # from SIGTERM to SIGKILL of the child
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, n))
OWN_OPTIONS = ("--logdir", "--logdir_spec")  # the folder is lfm tensorboard's argument


class TensorBoardError(Exception):
    """Options that cannot be passed on: a one-line message, exit status 2."""


def option_value(args: list[str], name: str) -> str | None:
    """The last value of `--name VALUE` or `--name=VALUE` in `args`, or None."""
    value = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def command(runs: Path, port: int | None, extra: list[str]) -> list[str]:
    """TensorBoard's command line: the same Python as `lfm`, the folder, the port (6006 unless
    given here or among `extra`), then `extra`, TensorBoard's own options, unchanged."""
    for a in extra:
        if a.split("=", 1)[0] in OWN_OPTIONS:
            raise TensorBoardError(f"{a.split('=', 1)[0]}: the log folder is lfm tensorboard's RUNS argument "
                                   f"(lfm tensorboard RUNS -- OPTIONS)")
    theirs = option_value(extra, "--port")
    if theirs is not None and port is not None and theirs != str(port):
        raise TensorBoardError(f"--port: given twice, {port} and {theirs}; give it once")
    cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(runs)]
    if theirs is None:
        cmd += ["--port", str(6006 if port is None else port)]
    return [*cmd, *extra]


class _Stop(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def stop(child: subprocess.Popen, grace: float = GRACE_S) -> None:
    """SIGTERM, then SIGKILL if the child is still there after `grace` seconds; reaped."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def port_problem(cmd: list[str]) -> str | None:
    """What is wrong with the port of TensorBoard's command line `cmd` on its host (the
    message), or None: a port some process listens on already is TensorBoard's exit 255."""
    try:
        port = int(option_value(cmd, "--port") or "")
    except ValueError:
        return None  # TensorBoard says what is wrong with it
    if port <= 0:
        return None  # 0: TensorBoard picks a free one
    host = None if "--bind_all" in cmd else (option_value(cmd, "--host") or "localhost")
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return None
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds: TIME_WAIT is free
                s.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"port {port} is in use (another TensorBoard?): stop that, or serve on another port "
                        f"with --port, e.g. --port {port + 1}")
    return None


def exit_status(code: int) -> int:
    """`lfm tensorboard`'s exit status for TensorBoard's `code`: 0, 2 (its options refused), else 1."""
    return code if code in (EXIT_OK, EXIT_USAGE) else EXIT_FAILED


def serve(cmd: list[str]) -> int:
    """Runs TensorBoard until it exits or `lfm` is asked to stop: 0 for Ctrl-C, 130 for SIGTERM
    and SIGHUP, else TensorBoard's own end as `exit_status` says."""
    child: subprocess.Popen | None = None
    signals: list[int] = []

    def on_signal(signum, _frame) -> None:
        signals.append(signum)
        if len(signals) == 1:
            raise _Stop(signum)  # out of the wait, into stopping the child
        if child is not None and child.poll() is None:
            child.kill()  # asked again while it stops: at once

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    code = 1
    try:
        child = subprocess.Popen(cmd, preexec_fn=lifeline.preexec(signal.SIGTERM))
        code = exit_status(child.wait())
    except _Stop as s:
        code = EXIT_OK if s.signum == signal.SIGINT else EXIT_CANCELLED
    finally:
        signals.append(0)  # from here on a signal only hastens the stop
        if child is not None:
            stop(child)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code
