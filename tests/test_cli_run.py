"""`lfm run` as a user runs it: live view, summary, --events, Ctrl-C and --resume, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import only_run_dir

LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]
ENV = {**os.environ, "COLUMNS": "120", "TERM": "dumb"}


def lfm(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(LFM + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.mark.slow
def test_run_prints_a_summary_and_exits_with_the_engine_status(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = lfm(["run", str(tiny_mfeat), "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "test, best-on-validation checkpoint" in out
    for row in ("fused", "pix", "mor", "accuracy gap (test, ACC points)"):
        assert row in out
    run = only_run_dir(tmp_path / "runs")
    assert str(run) in out.replace("\n", "")
    assert "lfm tensorboard" in out


@pytest.mark.slow
def test_events_flag_passes_the_raw_stream(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = lfm(["run", str(tiny_mfeat), "train.epochs=1", "--events", "--runs-dir", str(tmp_path / "runs")],
              tmp_path)
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert lines and all(json.loads(l)["v"] == 1 for l in lines)
    assert json.loads(lines[-1])["type"] == "run_finished"


@pytest.mark.slow
def test_bad_recipe_and_bad_run_folder_exit_2_without_traceback(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = lfm(["run", str(tiny_mfeat), "optim.lr=-1", "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 2 and "optim.lr: expected a value > 0.0, found -1.0" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout and not (tmp_path / "runs").exists()
    res = lfm(["run", "--resume", str(tmp_path)], tmp_path)
    assert res.returncode == 2 and "not a run folder" in res.stderr
    res = lfm(["run", str(tiny_mfeat), "data.root=/nonexistent", "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 2 and "mfeat.npz is missing" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout


@pytest.mark.slow
def test_ctrl_c_stops_with_a_checkpoint_and_says_how_to_resume(tiny_mfeat: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(LFM + ["run", str(tiny_mfeat), "train.epochs=4", "data.batch_size=8",
                                   "--runs-dir", str(tmp_path / "runs")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "runs").rglob("last.pt")):
        time.sleep(0.1)  # stop once epoch 1 has finished
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does to the client
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "resume with" in out and "lfm run --resume" in out
    run = only_run_dir(tmp_path / "runs")
    assert json.loads((run / "summary.json").read_text())["status"] == "cancelled"
    res = lfm(["run", "--resume", str(run)], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads((run / "summary.json").read_text())["status"] == "ok"
