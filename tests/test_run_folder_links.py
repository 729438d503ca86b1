"""Nothing is written through a symbolic link inside a run folder: `--resume` of a run whose
events.jsonl, engine.log, checkpoints/ or .lock is a link to a file elsewhere is refused with
exit status 2 and one message, and the file the link names is left byte for byte as it was."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_engine
from engine.contract import layout
from engine.contract import writes
from engine.contract import folder_lock
from test_run_folder_guards import stopped_once, stopped_run  # noqa: F401  (fixtures: one run trained, copied per test)

OUTSIDE = b"a file outside the run folder\nwith a last line cut short"


def planted(run: Path, name: str, tmp_path: Path) -> Path:
    """`run/name` replaced by a link to a file outside the run folder; that file."""
    target = tmp_path / f"outside-{name.replace('/', '-')}"
    target.write_bytes(OUTSIDE)
    (run / name).unlink()
    (run / name).symlink_to(target)
    return target


@pytest.mark.parametrize("name", [layout.EVENTS, layout.LOG, folder_lock.LOCK])
def test_resume_refuses_a_file_of_the_run_that_is_a_link(name: str, stopped_run: Path, tmp_path: Path) -> None:
    run = stopped_run
    target = planted(run, name, tmp_path)
    res = run_engine(["--resume", str(run)], tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert f"{run / name} is a symbolic link: files of a run folder are never written through a link" in res.stderr
    assert target.read_bytes() == OUTSIDE
    assert layout.status(run) is None  # no summary: the run is as it was, resumable once the link is gone


def test_a_checkpoints_folder_that_is_a_link_is_never_written_into(stopped_run: Path, tmp_path: Path) -> None:
    run = stopped_run
    elsewhere = tmp_path / "elsewhere"
    (run / layout.CHECKPOINTS).rename(elsewhere)
    (run / layout.CHECKPOINTS).symlink_to(elsewhere)
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    res = run_engine(["--resume", str(run)], tmp_path)
    assert res.returncode == 2, res.stderr
    assert f"{run / layout.CHECKPOINTS} is a symbolic link" in res.stderr and "Traceback" not in res.stderr
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == before


def test_atomic_writes_and_appends_refuse_links(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    target = tmp_path / "outside"
    target.write_bytes(OUTSIDE)
    for name in (layout.SUMMARY, layout.EVENTS):
        (run / name).symlink_to(target)
    with pytest.raises(writes.LinkRefused, match="summary.json is a symbolic link"):
        writes.write_atomic(run / layout.SUMMARY, "{}")
    with pytest.raises(writes.LinkRefused, match="events.jsonl is a symbolic link"):
        writes.open_append(run / layout.EVENTS)
    # a temporary file planted as a link is not followed either
    writes.temporary(run / layout.RECIPE).symlink_to(target)
    with pytest.raises(writes.LinkRefused):
        writes.write_atomic(run / layout.RECIPE, "x")
    assert target.read_bytes() == OUTSIDE
    assert not (run / layout.RECIPE).exists() and os.path.islink(run / layout.SUMMARY)
    # folders inside the run folder: made where absent, a link among them refused
    writes.make_folders(run / "figures" / "gradcam", run)
    assert (run / "figures" / "gradcam").is_dir()
    (run / "linked").symlink_to(tmp_path)
    with pytest.raises(writes.LinkRefused, match="linked is a symbolic link"):
        writes.make_folders(run / "linked" / "x", run)
    assert not (tmp_path / "x").exists()


def test_lfm_compare_out_refuses_a_link_with_exit_status_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lfm_tui.cli import app

    run = tmp_path / "runs" / "run-0"
    run.mkdir(parents=True)
    (run / "recipe.toml").write_text('name = "toy"\n[data]\nname = "mfeat"\nmodalities = ["pix", "mor"]\n'
                                     '[method]\nname = "concat"\n[train]\nseed = 0\n')
    (run / "events.jsonl").write_text("")
    (run / "summary.json").write_text('{"status": "ok", "test": {"acc": 90.0}}')
    target = tmp_path / "outside"
    target.write_bytes(OUTSIDE)
    (tmp_path / "table.md").symlink_to(target)
    res = CliRunner().invoke(app, ["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "table")])
    assert res.exit_code == 2, res.output
    assert "table.md is a symbolic link" in res.output and target.read_bytes() == OUTSIDE


def test_a_lock_owner_note_that_is_a_link_is_refused_and_the_lock_released(tmp_path: Path) -> None:
    target = tmp_path / "outside"
    target.write_bytes(OUTSIDE)
    run = tmp_path / "run"
    run.mkdir()
    (run / folder_lock.LOCK_OWNER).symlink_to(target)
    with pytest.raises(writes.LinkRefused, match=r"\.lock\.owner is a symbolic link"):
        folder_lock.FolderLock(run).acquire()
    assert folder_lock.in_use(run) is None and target.read_bytes() == OUTSIDE
