"""Every way a run can end maps to 0, 1, 2 or 130 (engine/contract/outcome.py), `lfm` says how to resume
whenever a checkpoint exists, printed commands are quoted for a shell, and no temporary file is
left: SIGKILL of the engine, a double Ctrl-C, Ctrl-C during start-up, a rank that aborts after
the run reported its finish."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import only_run_dir
from test_cli_run import ENV, LFM

HOSTILE = "runs $(touch pwned) x"  # a runs folder a shell would run something in, unquoted


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.05)
    assert predicate(), "timed out"


def catches_sigterm(pid: int) -> bool:
    """The engine's main has installed its signal handlers (SIGTERM, which Python leaves alone,
    is caught: /proc's SigCgt); without /proc, half a second after its start is taken for it."""
    if not Path("/proc/self/status").exists():
        time.sleep(0.5)
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:")), 0)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def engine_pid(run: Path) -> int:
    first = json.loads((run / "events.jsonl").read_text().splitlines()[0])
    return first["pid"]


def start_lfm(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(LFM + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def resume_line(out: str) -> list[str]:
    """The printed resume command, as a shell would split it."""
    line = next(l for l in out.splitlines() if "lfm run --resume" in l)
    return shlex.split(line[line.index("lfm run --resume"):])


@pytest.mark.slow
def test_sigkill_of_the_engine_is_a_failure_with_the_resume_command(tiny_mfeat: Path, tmp_path: Path) -> None:
    runs = tmp_path / HOSTILE
    proc = start_lfm(["run", str(tiny_mfeat), "train.epochs=6", "data.batch_size=8", "--runs-dir", str(runs)], tmp_path)
    wait_for(lambda: list(runs.rglob("last.pt")))
    run = only_run_dir(runs)
    stale = run / "checkpoints" / ".last.pt.999999.tmp"   # what a writer killed mid-write leaves
    stale.write_bytes(b"partial")
    os.kill(engine_pid(run), signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err  # not 247 (= -9)
    assert "killed by SIGKILL" in out and "Traceback" not in out + err
    assert resume_line(out) == ["lfm", "run", "--resume", str(run)]
    assert not stale.exists() and not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_double_ctrl_c_stops_at_once_with_130_and_no_temporary_file(tiny_mfeat: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = start_lfm(["run", str(tiny_mfeat), "train.epochs=6", "data.batch_size=8", "--runs-dir", str(runs)], tmp_path)
    wait_for(lambda: list(runs.rglob("last.pt")))
    run = only_run_dir(runs)
    proc.send_signal(signal.SIGINT)                # the first Ctrl-C: lfm sends SIGINT to the engine
    os.kill(engine_pid(run), signal.SIGTERM)       # the second: SIGTERM, which lfm sends; here at once
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err  # not 241 (= -15)
    assert "Traceback" not in out + err
    assert resume_line(out) == ["lfm", "run", "--resume", str(run)]
    assert [p for p in run.rglob("*.tmp")] == []
    assert json.loads((run / "summary.json").read_text())["status"] == "cancelled"
    res = subprocess.run(LFM + ["run", "--resume", str(run)], cwd=tmp_path, capture_output=True, text=True, env=ENV,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_sigterm_mid_write_removes_the_temporary_file(tiny_mfeat: Path, tmp_path: Path) -> None:
    """SIGTERM while a checkpoint is being written (held there by a test hook): the engine ends
    with 130, reports the run as cancelled and leaves neither a temporary file nor a damaged
    last.pt."""
    code = ("import os, signal, time, engine.contract.faults as f\n"
            "orig = f.point\n"
            "def point(when, path):\n"
            "    if when == 'enospc' and path.name == 'last.pt' and f._writes.get('last.pt') == 2:\n"
            "        os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
            "    orig(when, path)\n"
            "f.point = point\n"
            "from engine.run import main\nraise SystemExit(main())\n")
    res = subprocess.run([sys.executable, "-c", code, str(tiny_mfeat), "--runs-dir", str(tmp_path / "runs")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "LFM_FAULT": "-"})
    run = only_run_dir(tmp_path / "runs")
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stderr
    last = json.loads(res.stdout.splitlines()[-1])
    assert last["type"] == "run_finished" and last["status"] == "cancelled"
    assert [p.name for p in (run / "checkpoints").iterdir()] and not list(run.rglob("*.tmp"))
    import torch

    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 2  # epoch 1's, whole


def test_ctrl_c_during_start_up_is_130_without_a_traceback(tiny_mfeat: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "engine", str(tiny_mfeat), "--runs-dir", str(tmp_path / "runs")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: catches_sigterm(proc.pid), timeout=60)  # main is setting the run up
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err  # not 254 (= -2, an uncaught KeyboardInterrupt)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "stopped before the run started" in err and not (tmp_path / "runs").exists()


def test_lfm_reports_a_run_by_what_the_engine_reported(tmp_path: Path) -> None:
    """A world whose rank aborts while tearing down after run_finished ok (torchrun exits 1) is
    a finished run: exit 0, with a note; an exit without any report is a failure."""
    from rich.console import Console

    from lfm_tui.headless import run_headless

    finished = {"v": 1, "type": "run_finished", "seq": 0, "time": 0, "status": "ok", "best": None, "test": None,
                "error": None, "traceback": None, "exit_code": 0}
    script = (f"import sys; print({json.dumps(json.dumps(finished))}, flush=True); "
              "sys.stderr.write('terminate called without an active exception\\n'); sys.exit(1)")
    console = Console(file=open(os.devnull, "w"), width=120)
    assert run_headless([], console=console, command=[sys.executable, "-c", script]) == 0
    assert run_headless([], raw_events=True, console=console, command=[sys.executable, "-c", script]) == 0
    assert run_headless([], console=console, command=[sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]) == 1
    assert run_headless([], console=console, command=[sys.executable, "-c", "import sys; sys.exit(0)"]) == 1


@pytest.mark.parametrize("reported,code,stop_sent,expected", [
    ({"status": "ok", "exit_code": 0}, 1, False, 0),            # a rank aborted in teardown
    ({"status": "ok", "exit_code": 0}, -6, False, 0),
    ({"status": "cancelled", "exit_code": 130}, 1, True, 130),  # torchrun's own status for a stopped world
    ({"status": "failed", "exit_code": 2}, 1, False, 2),
    ({"status": "failed", "exit_code": 1}, -9, False, 1),
    (None, -9, False, 1), (None, -9, True, 130), (None, -15, True, 130), (None, -2, False, 130),
    (None, 2, False, 2), (None, 130, False, 130), (None, 0, False, 1), (None, 247, False, 1), (None, 1, True, 130),
])
def test_every_ending_maps_to_a_documented_status(reported, code, stop_sent, expected) -> None:
    from engine.contract.outcome import client_exit

    assert client_exit(reported, code, stop_sent)[1] == expected


def test_printed_commands_are_quoted_for_a_shell(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from engine.contract.outcome import resume_command, sweep_resume_command, tensorboard_command
    from lfm_tui.headless import summary
    from engine.contract import layout
    from engine.contract.run_state import RunState

    run = tmp_path / "a b" / "$(touch pwned)" / "it's [/]"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    for cmd, words in ((resume_command(run), ["lfm", "run", "--resume"]),
                       (tensorboard_command(run), ["lfm", "tensorboard"]),
                       (sweep_resume_command(run), ["lfm", "sweep", "--resume"])):
        assert shlex.split(cmd) == [*words, str(run)]
    buf = io.StringIO()
    summary(Console(file=buf, width=80), RunState(run_dir=str(run), status="cancelled"), 130)
    out = buf.getvalue()
    assert resume_command(run) in out and tensorboard_command(run) in out  # whole, on one line each
    assert shlex.join(["tensorboard", "--logdir", str(layout.tensorboard_dir(run))]) in out
