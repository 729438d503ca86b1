"""A pre-started engine for the tests: `python -m engine` spends about 6 of its first seconds
importing torch, torch._dynamo (loaded by the optimiser), matplotlib and TensorBoard's writer
before it reads its recipe. The tests start the engine about a hundred times (conftest.run_engine),
so each test process keeps one server that has imported all that once and forks a child per run.
The child is what `python -m engine ARGS` would be after its imports: its own process, with the
test's working folder, environment, stdout and stderr (passed over a Unix socket), its exit
status or the signal that killed it returned as subprocess.run returns them.

Where a real start is what a test checks (signals while the engine imports, PYTHONPATH plug-ins,
a process tree), the test starts `python -m engine` itself. LFM_TEST_NO_ZYGOTE=1 turns the server
off, so that every run_engine call starts a fresh interpreter.

    python tests/engine_zygote.py SOCKET     the server (started by conftest.run_engine)
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

FDS = 3          # the child's stdin, stdout and stderr
MAX_REQUEST = 1 << 20


# ----------------------------------------------------------------------------- the server

def serve(path: str) -> None:
    import matplotlib.backends.backend_agg  # noqa: F401  (the confusion pictures' canvas)
    import matplotlib.figure  # noqa: F401
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  (what the first optimiser imports)
    import torch.utils.tensorboard  # noqa: F401

    import engine.run  # noqa: F401

    parent = os.getppid()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    server.settimeout(1.0)
    print("ready", flush=True)
    while os.getppid() == parent:    # the test process went away: so does its server
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        with conn:
            conn.settimeout(None)
            msg, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, FDS)
            if len(fds) != FDS:
                for fd in fds:
                    os.close(fd)
                continue
            pid = os.fork()
            if pid == 0:
                conn.close()
                server.close()
                child(json.loads(msg), fds)
            for fd in fds:
                os.close(fd)
            try:
                conn.sendall(f"{pid}\n".encode())
            except OSError:         # the test went away: the child is reaped all the same
                pass
            _, status = os.waitpid(pid, 0)
            try:
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass


def child(request: dict, fds: list[int]) -> None:
    """In the forked child: become `python -m engine ARGS` and never return."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.argv = [str(Path(sys.executable)), "-m", "engine", *request["args"]]
        from engine.run import main

        code = main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:   # as Python itself would end: the traceback on stderr, status 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(code)


# ----------------------------------------------------------------------------- the client

class Zygote:
    """This test process's server, started on first use."""

    def __init__(self, folder: Path):
        self.path = str(folder / "engine.sock")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")) if p)}
        self.proc = subprocess.Popen([sys.executable, __file__, self.path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError("the engine zygote did not start")

    def run(self, args: list[str], cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
            request = json.dumps({"args": list(args), "cwd": str(cwd), "env": env}).encode()
            socket.send_fds(sock, [request], [null, out_w, err_w])
        finally:
            for fd in (out_w, err_w, null):
                os.close(fd)
        reader = sock.makefile("r")
        pid = int(reader.readline())
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        threads = [threading.Thread(target=_drain, args=(fd, chunks[fd]), daemon=True) for fd in chunks]
        for t in threads:
            t.start()
        sock.settimeout(timeout)
        started = time.monotonic()
        try:
            line = reader.readline()
        except (socket.timeout, TimeoutError):
            os.kill(pid, signal.SIGKILL)
            sock.settimeout(None)   # the server reports the killed child at once (the reader, timed
            sock.recv(64)           # out, reads no more: the socket itself does)
            raise subprocess.TimeoutExpired([sys.executable, "-m", "engine", *args], timeout) from None
        finally:
            for t in threads:
                t.join(max(1.0, timeout - (time.monotonic() - started)))
            sock.close()
        out, err = (b"".join(chunks[fd]).decode(errors="replace") for fd in (out_r, err_r))
        return subprocess.CompletedProcess([sys.executable, "-m", "engine", *args], int(line), out, err)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _drain(fd: int, into: list[bytes]) -> None:
    with os.fdopen(fd, "rb", buffering=0) as f:
        while chunk := f.read(1 << 16):
            into.append(chunk)


if __name__ == "__main__":
    serve(sys.argv[1])
