"""Faults at every write: the engine killed at each write point (LFM_FAULT, engine/contract/faults.py)
or a write failing for lack of space, then `--resume`, gives the numbers of the uninterrupted
run; nothing already written is damaged and no temporary file is left behind."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import events_of, only_run_dir, run_engine

ARGS = ["train.epochs=2"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run: its last event (run_finished, with best and test)."""
    from conftest import RECIPES

    tmp = tmp_path_factory.mktemp("reference")
    recipe = tmp / "tiny_mfeat.toml"
    recipe.write_text((RECIPES / "mfeat.toml").read_text().replace("epochs = 30", "epochs = 2\nthreads = 1\nlog_every = 5"))
    res = run_engine([str(recipe), *ARGS, "--runs-dir", str(tmp / "runs")], tmp)
    assert res.returncode == 0, res.stderr
    return {"recipe": recipe, "finished": events_of(res.stdout)[-1]}


def temporaries(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.name.endswith(".tmp")]


def assert_same_result(finished: dict, reference: dict) -> None:
    assert finished["status"] == "ok"
    assert finished["best"]["epoch"] == reference["best"]["epoch"]
    assert finished["best"] == pytest.approx(reference["best"], rel=1e-6)
    assert finished["test"] == pytest.approx(reference["test"], rel=1e-6)  # the best epoch's weights were tested


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["after:last.pt@2", "partial:best.pt@2", "after:best.pt@2", "after:predictions.npz",
                                   pytest.param("before:best.pt@2", marks=pytest.mark.slow),
                                   pytest.param("partial:last.pt@2", marks=pytest.mark.slow)])
def test_a_kill_at_any_write_then_resume_gives_the_uninterrupted_result(reference: dict, tmp_path: Path,
                                                                        fault: str) -> None:
    ref = reference["finished"]
    assert ref["best"]["epoch"] == 2  # the last epoch improves: both checkpoints are written at its end
    cut = run_engine([str(reference["recipe"]), *ARGS, "--runs-dir", str(tmp_path / "runs")], tmp_path,
                     env={"LFM_FAULT": fault})
    assert cut.returncode == -9, cut.stderr  # killed at that write, as by a power cut or SIGKILL
    run = only_run_dir(tmp_path / "runs")
    resumed = run_engine(["--resume", str(run)], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_result(events_of(resumed.stdout)[-1], ref)
    assert json.loads((run / "summary.json").read_text())["test"] == events_of(resumed.stdout)[-1]["test"]
    assert temporaries(run) == []


@pytest.mark.slow
def test_disk_full_at_a_checkpoint_is_one_message_and_resume_continues(reference: dict, tmp_path: Path) -> None:
    """last.pt of epoch 2 cannot be written: exit 1 with what to do, epoch 1's checkpoints intact,
    no temporary file, a whole summary.json; with space again, --resume ends as uninterrupted."""
    import torch

    res = run_engine([str(reference["recipe"]), *ARGS, "--runs-dir", str(tmp_path / "runs")], tmp_path,
                     env={"LFM_FAULT": "enospc:last.pt@2"})
    run = only_run_dir(tmp_path / "runs")
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert f"no space left on the device while writing {run / 'checkpoints' / 'last.pt'}" in res.stderr
    assert f"lfm run --resume {run}" in res.stderr
    finished = events_of(res.stdout)[-1]
    assert finished["type"] == "run_finished" and finished["status"] == "failed" and not finished["traceback"]
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    for name in ("last.pt", "best.pt"):  # what was already written is whole and loads
        state = torch.load(run / "checkpoints" / name, weights_only=True)
        assert state["epoch"] == 2 and state["best_epoch"] == 1
    assert temporaries(run) == []
    resumed = run_engine(["--resume", str(run)], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_result(events_of(resumed.stdout)[-1], reference["finished"])


@pytest.mark.slow
def test_disk_full_when_a_run_starts_leaves_no_folder(reference: dict, tmp_path: Path) -> None:
    res = run_engine([str(reference["recipe"]), *ARGS, "--runs-dir", str(tmp_path / "runs")], tmp_path,
                     env={"LFM_FAULT": "enospc:recipe.toml"})
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "error: no space left on the device while writing" in res.stderr and "recipe.toml" in res.stderr
    assert [p for p in (tmp_path / "runs").rglob("*") if p.is_file()] == []  # no 0-byte recipe.toml


@pytest.mark.slow
def test_disk_full_at_the_summary_keeps_the_run_resumable(reference: dict, tmp_path: Path) -> None:
    res = run_engine([str(reference["recipe"]), *ARGS, "--runs-dir", str(tmp_path / "runs")], tmp_path,
                     env={"LFM_FAULT": "enospc:summary.json"})
    run = only_run_dir(tmp_path / "runs")
    assert res.returncode == 1 and "Traceback" not in res.stderr and "summary.json" in res.stderr
    assert not (run / "summary.json").exists() and temporaries(run) == []
    resumed = run_engine(["--resume", str(run)], tmp_path)  # the test runs again, the summary is written
    assert resumed.returncode == 0, resumed.stderr
    assert_same_result(events_of(resumed.stdout)[-1], reference["finished"])


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.slow
def test_a_really_full_disk_then_more_space_then_resume(reference: dict, tmp_path: Path) -> None:
    """A 1 MiB tmpfs holds the run folder and one checkpoint, not two: the real ENOSPC of a
    write, then the same folder with room (remounted at 8 MiB) resumes to the uninterrupted
    result. Skipped where a tmpfs cannot be mounted."""
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        res = run_engine([str(reference["recipe"]), *ARGS, "--runs-dir", str(disk / "runs")], tmp_path)
        run = only_run_dir(disk / "runs")
        assert res.returncode == 1, res.stderr
        assert "no space left on the device while writing" in res.stderr and "Traceback" not in res.stderr
        assert temporaries(run) == []
        assert subprocess.run(["mount", "-o", "remount,size=8m", str(disk)]).returncode == 0
        resumed = run_engine(["--resume", str(run)], tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert_same_result(events_of(resumed.stdout)[-1], reference["finished"])
        assert temporaries(run) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_every_write_is_whole_or_nothing(tmp_path: Path) -> None:
    """writes.atomic_open: a failure (or a signal's exception) mid-write leaves the old file and
    no temporary file."""
    from engine.contract import writes
    path = tmp_path / "summary.json"
    writes.write_atomic(path, "old")

    class Interrupted(BaseException):
        pass

    for exc in (OSError(28, "No space left on device"), Interrupted()):
        with pytest.raises(type(exc)):
            with writes.atomic_open(path) as fh:
                fh.write(b"half of the new")
                raise exc
        assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_a_line_cut_short_by_a_full_disk_is_dropped_when_the_stream_is_continued(tmp_path: Path) -> None:
    from engine.contract import writes
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"v":1,"type":"log"}\n' * 5000 + b'{"v":1,"type":"st')  # the last write failed midway
    with writes.open_append(path) as fh:
        fh.write('{"v":1,"type":"run_started"}\n')
    lines = path.read_text().splitlines()
    assert len(lines) == 5001 and all(json.loads(line) for line in lines)


def test_an_enospc_rule_fails_the_nth_write_of_its_file_only(tmp_path: Path, monkeypatch) -> None:
    """In process: LFM_FAULT=enospc:NAME@2 lets the first write of NAME through, fails the second
    with ENOSPC naming the file (the old content kept, no temporary file), and leaves other files alone."""
    from engine.contract import writes
    name = f"state-{uuid.uuid4().hex[:8]}.json"  # the write counts live for the whole process
    monkeypatch.setenv("LFM_FAULT", f"enospc:{name}@2")
    path, other = tmp_path / name, tmp_path / "other.json"
    writes.write_atomic(path, "first")
    with pytest.raises(OSError) as info:
        writes.write_atomic(path, "second")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    writes.write_atomic(other, "untouched by the rule")
    writes.write_atomic(path, "third")  # the rule named the second write only
    assert path.read_text() == "third" and other.read_text() == "untouched by the rule"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "other.json"])
