"""`lfm tui` checks its folders before opening the dashboard."""
from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lfm_tui.cli import app


def test_tui_rejects_a_missing_recipes_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["tui", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "no such folder of recipes" in res.output and "Traceback" not in res.output


def test_tui_rejects_a_runs_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("")
    res = CliRunner().invoke(app, ["tui", str(tmp_path), "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 2 and "not a folder" in res.output


def test_tui_is_listed_in_help() -> None:
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0 and "tui" in res.output
