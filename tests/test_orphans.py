"""No engine outlives the `lfm` that started it: `lfm run` or an `lfm sweep --jobs 2` killed
with SIGKILL (no handler of its own runs) leaves engines that stop within seconds, each with a
checkpoint, as after Ctrl-C; the run folders are free again and `--resume` continues them."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.contract import layout
from engine.contract import folder_lock
from lfm_tui import plan as plans
from test_cli_run import ENV, LFM, lfm
from test_headless_output import cmdline, gone, wait_for

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")]
BASE = ["train.epochs=6", "train.threads=1", "data.batch_size=16"]  # ~90 steps an epoch


def evaluated(run: Path) -> bool:
    """The engine is training: epoch 1 was evaluated (its checkpoints are written)."""
    try:
        return any('"type":"eval"' in line.replace(" ", "") for line in (run / layout.EVENTS).read_text().splitlines())
    except OSError:
        return False


def engine_pid(run: Path) -> int:
    return wait_for(lambda: folder_lock.lock_owner(run).get("pid"), 60, f"{run}'s engine to lock it")


def kill_lfm_and_check_engines_stop(proc: subprocess.Popen, runs: list[Path]) -> None:
    pids = [engine_pid(r) for r in runs]
    assert proc.pid not in pids and all(not gone(p) for p in pids)
    proc.kill()  # SIGKILL: lfm says nothing to its engines
    proc.wait(timeout=30)
    wait_for(lambda: all(gone(p) for p in pids), 20, "the engines of the killed lfm to stop")
    for run in runs:
        summary = json.loads((run / layout.SUMMARY).read_text())
        assert summary["status"] == "cancelled" and summary["epochs_done"] < 6, summary
        state = layout.checkpoint(run)
        assert state.is_file()
        last = [json.loads(l) for l in (run / layout.EVENTS).read_text().splitlines()][-1]
        assert last["type"] == "run_finished" and last["status"] == "cancelled"
        assert folder_lock.in_use(run) is None


def test_a_killed_lfm_run_leaves_no_engine_training(tiny_mfeat: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(LFM + ["run", str(tiny_mfeat), *BASE, "--runs-dir", str(tmp_path / "runs")],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        run = wait_for(lambda: next((r.parent for r in (tmp_path / "runs").rglob(layout.EVENTS) if evaluated(r.parent)),
                                    None), 120, "the engine to train")
        kill_lfm_and_check_engines_stop(proc, [run])
    finally:
        proc.kill()
    res = lfm(["run", "--resume", str(run), "--events"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[-1])["status"] == "ok"


def test_a_killed_lfm_sweep_jobs_2_leaves_no_engine_training_and_resumes(tiny_mfeat: Path, tmp_path: Path) -> None:
    sw = tmp_path / "sw"
    proc = subprocess.Popen(LFM + ["sweep", str(tiny_mfeat), *BASE, "--grid", "method.name=concat,lfm",
                                   "--jobs", "2", "--out", str(sw)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    runs = [sw / plans.folder_name({"method.name": m}) / "seed-0" for m in ("concat", "lfm")]
    try:
        wait_for(lambda: all(evaluated(r) for r in runs), 180, "both engines to train")
        kill_lfm_and_check_engines_stop(proc, runs)
    finally:
        proc.kill()
    # the sweep continues at once: no engine holds a run folder
    res = lfm(["sweep", "--resume", str(sw), "--jobs", "2"], tmp_path, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("resumed from its checkpoint") == 2
    assert all(layout.finished(r) for r in runs)


FAKE_LFM = """import subprocess, sys, time
from lfm_tui.executors.reaper import Reaper
reaper = Reaper.start()
# a tree like a Ray instance's: a service in its own session, which starts an agent in another
service = subprocess.Popen(["sh", "-c", "setsid sleep 300 & exec sleep 301"], start_new_session=True,
                           stdout=subprocess.DEVNULL)
watcher = reaper.proc.pid
time.sleep(1.5)  # the watcher notes them
if sys.argv[1] == "stop":
    reaper.stop()
print(watcher, flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("closed", [False, True])
def test_what_a_killed_lfm_started_for_ray_ends_with_it(closed: bool, tmp_path: Path) -> None:
    from lfm_tui.executors.reaper import descendants, processes

    proc = subprocess.Popen([sys.executable, "-c", FAKE_LFM, "stop" if closed else "kill"], cwd=tmp_path,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    tree: list[int] = []
    try:
        watcher = int(proc.stdout.readline())

        def service_and_agent() -> list[int] | None:
            found = [p for p in descendants(proc.pid, processes()) if "sleep" in cmdline(p)]
            return found if len(found) == 2 else None

        tree = wait_for(service_and_agent, 30, "the service and its agent")
        proc.kill()  # SIGKILL: no handler of its own runs
        proc.wait(timeout=30)
        if closed:  # lfm closed its instance itself before: the watcher had ended, nothing is touched
            time.sleep(3)
            assert gone(watcher) and not any(gone(p) for p in tree)
        else:
            wait_for(lambda: all(gone(p) for p in [*tree, watcher]), 15, "the killed lfm's processes to end")
    finally:
        proc.kill()
        for p in tree:
            if not gone(p):
                os.kill(p, signal.SIGKILL)

