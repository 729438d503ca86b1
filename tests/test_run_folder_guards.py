"""What `--resume` refuses with exit status 2 and one message: a recipe.toml edited after the
run, a checkpoint that lacks keys or does not fit, an unsafe pickle (never with advice to load
it anyway); and a run or sweep folder another process is writing to (its pid named)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import TINY_MFEAT, only_run_dir, run_engine
from test_cli_run import ENV, LFM


def stop_after_epoch_1(recipe: Path, tmp_path: Path, *overrides: str) -> Path:
    """A run killed after epoch 1's checkpoints (engine/contract/faults.py): resumable."""
    res = run_engine([str(recipe), "train.epochs=6", *overrides, "--runs-dir", str(tmp_path / "runs")], tmp_path,
                     env={"LFM_FAULT": "after:best.pt@1"})
    assert res.returncode == -9, res.stderr
    return only_run_dir(tmp_path / "runs")


@pytest.fixture(scope="module")
def stopped_once(tmp_path_factory) -> Path:
    """A run of TINY_MFEAT stopped as stop_after_epoch_1 stops it, trained once for the module:
    tests resume their own copy (`stopped_copy`), never this folder."""
    tmp = tmp_path_factory.mktemp("stopped")
    recipe = tmp / "tiny_mfeat.toml"
    recipe.write_text(TINY_MFEAT)
    return stop_after_epoch_1(recipe, tmp)


def stopped_copy(stopped_once: Path, tmp_path: Path) -> Path:
    """A copy of the stopped run, as a run folder of tmp_path/runs."""
    run = tmp_path / "runs" / "tiny_mfeat" / stopped_once.name
    shutil.copytree(stopped_once, run, symlinks=True)
    return run


@pytest.fixture
def stopped_run(stopped_once: Path, tmp_path: Path) -> Path:
    return stopped_copy(stopped_once, tmp_path)


def refused(run: Path, cwd: Path) -> str:
    res = run_engine(["--resume", str(run)], cwd)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    return res.stderr


@pytest.mark.slow
def test_a_recipe_edited_after_the_run_is_refused(stopped_run: Path, tmp_path: Path) -> None:
    run, recipe = stopped_run, stopped_run / "recipe.toml"
    before = (run / "events.jsonl").read_text()
    recipe.write_text(recipe.read_text().replace("feature_dim = 64", "feature_dim = 32"))
    err = refused(run, tmp_path)
    assert "recipe.toml was changed after the run: model.feature_dim is 32 in recipe.toml, 64 in the checkpoint" in err

    last = run / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    del state["recipe"]  # a checkpoint that cannot say what it was trained with: the weights do not fit
    torch.save(state, last)
    err = refused(run, tmp_path)
    assert "does not fit the model and optimiser that the run's recipe.toml builds" in err
    assert (run / "events.jsonl").read_text() == before  # nothing written to the run folder


@pytest.mark.slow
def test_a_checkpoint_missing_keys_or_unsafe_is_refused(stopped_run: Path, tmp_path: Path) -> None:
    run, last = stopped_run, stopped_run / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    del state["optimizer"], state["sums"]
    torch.save(state, last)
    assert "last.pt lacks optimizer, sums" in refused(run, tmp_path)

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    torch.save({"format": 1, "x": Payload()}, last)
    err = refused(run, tmp_path)
    assert "the checkpoint does not load" in err and "weights_only" not in err and "pickle" not in err.lower()
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow  # two engine processes
def test_a_run_folder_in_use_is_refused_naming_the_holder(tiny_mfeat: Path, tmp_path: Path) -> None:
    stopped_run = stop_after_epoch_1(tiny_mfeat, tmp_path, "data.batch_size=8")  # the holder trains for a while
    holder = subprocess.Popen([sys.executable, "-m", "engine", "--resume", str(stopped_run)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    owner = stopped_run / ".lock.owner"
    while time.time() < deadline and not (owner.exists() and f'"pid": {holder.pid}' in owner.read_text()):
        time.sleep(0.02)
    second = run_engine(["--resume", str(stopped_run)], tmp_path)
    lfm = subprocess.run(LFM + ["run", "--resume", str(stopped_run)], cwd=tmp_path, capture_output=True, text=True,
                         env=ENV, timeout=120)
    assert holder.poll() is None  # both were refused while the holder was writing
    out, _ = holder.communicate(timeout=300)
    assert holder.returncode == 0
    for res in (second, lfm):
        assert res.returncode == 2, res.stdout + res.stderr
        assert f"is in use by process {holder.pid}" in res.stderr and "Traceback" not in res.stderr
    assert second.stdout == ""
    events = (stopped_run / "events.jsonl").read_text()
    assert events.count('"run_started"') == 2  # the first run and the holder; nothing from the refused ones
    assert json.loads(events.splitlines()[-1])["status"] == "ok"


def test_a_sweep_folder_in_use_is_refused_naming_the_holder(tiny_mfeat: Path, tmp_path: Path) -> None:
    from engine.contract import folder_lock
    from lfm_tui import sweep as sweeps

    folder = tmp_path / "sweep"
    sweeps.create(folder, tiny_mfeat, [], [], [0], ["lfm", "sweep"])
    with folder_lock.FolderLock(folder):
        res = subprocess.run(LFM + ["sweep", "--resume", str(folder)], cwd=tmp_path, capture_output=True, text=True,
                             env=ENV, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"is in use by process {os.getpid()}" in res.stderr and "Traceback" not in res.stderr
    assert not (folder / "seed-0").exists()
