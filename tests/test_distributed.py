"""Two engine processes on the CPU (gloo) under torchrun: a run finishes with the ranks in
step, the whole split evaluated once, one event stream and one TensorBoard folder, and a
stopped run resumes. Marked `distributed`: `-m "not distributed"` skips them where processes
cannot be spawned."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import events_of, only_run_dir

pytestmark = pytest.mark.distributed


def finished_ok(res: subprocess.CompletedProcess) -> bool:
    """The world exited 0, or a rank aborted in the process group's teardown after the run had
    finished and reported (a known, occasional gloo abort at exit: std::terminate, SIGABRT)."""
    if res.returncode == 0:
        return True
    evs = events_of(res.stdout)
    return (bool(evs) and evs[-1]["type"] == "run_finished" and evs[-1]["status"] == "ok"
            and "SIGABRT" in res.stderr)


def torchrun(args: list[str], cwd: Path) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
            "-m", "engine", *args]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """(the runs folder, the finished world) of tiny mfeat with the learned alpha, two processes."""
    from conftest import TINY_MFEAT

    tmp_path = tmp_path_factory.mktemp("two-processes")
    (tmp_path / "tiny_mfeat.toml").write_text(TINY_MFEAT)
    # the old default step (Adam 0.1 on alpha), which moves alpha on every update
    args = [str(tmp_path / "tiny_mfeat.toml"), "alpha.strategy=learned", "alpha.hypergradient=neumann",
            "alpha.optimizer=adam", "alpha.lr=0.1", "alpha.horizon=0", "alpha.space=linear", "train.threads=1",
            "--runs-dir", str(tmp_path / "runs")]
    res = subprocess.run(torchrun(args, tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return tmp_path / "runs", res


@pytest.mark.slow
def test_two_processes_stay_in_step_and_write_once(two_process_run) -> None:
    from engine.contract import layout
    runs, res = two_process_run
    assert finished_ok(res), res.stderr[-3000:]
    evs = events_of(res.stdout)
    assert [e["type"] for e in evs].count("run_started") == 1 and evs[0]["world_size"] == 2
    evals = [e for e in evs if e["type"] == "eval"]
    for e in evals:
        ranks = e["ranks"]
        assert ranks["world_size"] == 2
        assert ranks["alphas"][0] == ranks["alphas"][1]          # the learned alpha is shared
        assert ranks["checksums"][0] == ranks["checksums"][1]    # DDP keeps the weights identical
        split_size = evs[0]["split_sizes"][e["split"]]
        assert e["samples"] == split_size                        # every sample once, across ranks
    ups = [e for e in evs if e["type"] == "alpha_updated"]
    assert len(ups) == 2 and ups[0]["alpha"] != ups[1]["alpha"]
    run = only_run_dir(runs)
    assert len(list(runs.rglob("events.jsonl"))) == 1
    tb_files = list(layout.tensorboard_dir(run).glob("events.out.tfevents.*"))  # *.<host>.<pid>.<n>
    assert tb_files and len({p.name.split(".")[-2] for p in tb_files}) == 1  # one process writes them
    assert (run / "events.jsonl").read_text().count('"run_started"') == 1
    assert json.loads((run / "summary.json").read_text())["status"] == "ok"


@pytest.mark.slow
def test_a_stopped_two_process_run_resumes(tiny_mfeat: Path, tmp_path: Path) -> None:
    # stopped once epoch 1's checkpoint is written: four epochs later it would have finished
    args = [str(tiny_mfeat), "train.epochs=5", "data.batch_size=8", "train.threads=1",
            "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.Popen(torchrun(args, tmp_path), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    deadline = time.time() + 200
    while time.time() < deadline and not list((tmp_path / "runs").rglob("last.pt")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # torchrun passes it on to both ranks
    out, _ = proc.communicate(timeout=200)
    evs = events_of(out)
    assert evs[-1]["type"] == "run_finished" and evs[-1]["status"] == "cancelled"
    run = only_run_dir(tmp_path / "runs")
    res = subprocess.run(torchrun(["--resume", str(run)], tmp_path), cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert finished_ok(res), res.stderr[-3000:]
    resumed = events_of(res.stdout)
    assert resumed[0]["resumed_from"]["epoch"] >= 1
    assert resumed[-1]["status"] == "ok"
    assert [e["epoch"] for e in resumed if e["type"] == "eval" and e["split"] == "val"][-1] == 5


@pytest.mark.slow
def test_resume_with_another_world_size_is_refused(two_process_run, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(only_run_dir(two_process_run[0]), run)
    (run / "summary.json").unlink()  # pretend it stopped, to reach the world-size check
    res = subprocess.run([sys.executable, "-m", "engine", "--resume", str(run)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--nproc-per-node 2" in res.stderr and "Traceback" not in res.stderr


def test_lfm_run_builds_the_torchrun_command() -> None:
    from lfm_tui.client import Launch, engine_command

    assert engine_command(["r.toml"], python="py") == ["py", "-m", "engine", "r.toml"]
    assert engine_command(["r.toml"], python="py", launch=Launch(2)) == [
        "py", "-m", "torch.distributed.run", "--nproc-per-node=2", "--standalone", "-m", "engine", "r.toml"]
    assert engine_command(["r.toml"], python="py", launch=Launch(4, 2, 1, "node0:29400")) == [
        "py", "-m", "torch.distributed.run", "--nproc-per-node=4", "--nnodes=2", "--node-rank=1",
        "--master-addr=node0", "--master-port=29400", "-m", "engine", "r.toml"]
