"""The dashboard's sweeps screen, driven by Pilot: a sweep's grid with each run's status,
progress and best metric read live from its run folders, and its runs opened in the run screen
(a running one followed through its event file, a finished one replayed)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from lfm_tui.app import make_app
from lfm_tui.cli import app as cli
from lfm_tui.screens.run import RunScreen
from lfm_tui.screens.sweeps import SweepScreen
from lfm_tui.widgets.sweep_grid import SweepGrid
from tests.tui_helpers import ROOT, reads_done, until

from test_sweep_exec import FIXTURE, fake_sweep

RECIPES = ROOT / "tests" / "fixtures" / "recipes"


def cells(grid: SweepGrid, row: int) -> list[str]:
    return [str(c) for c in grid.get_row_at(row)]


def append(run: Path, lines: list[str]) -> None:
    with open(run / "events.jsonl", "a") as fh:
        fh.write("\n".join(lines) + "\n")


def test_the_sweeps_screen_follows_a_sweep_and_opens_its_runs(tiny_mfeat: Path, tmp_path: Path) -> None:
    runs = fake_sweep(tmp_path / "runs" / "tiny_mfeat" / "sweep-20261128-100000", tiny_mfeat)
    rest = FIXTURE.read_text().splitlines()
    app = make_app(RECIPES, tmp_path / "runs", cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("4")
            assert isinstance(app.screen, SweepScreen)
            grid = app.screen.query_one(SweepGrid)
            await until(pilot, lambda: grid.row_count == 4, what="the sweep's four runs")
            # columns: method.name, seed, status, epoch, progress, best val ACC, test ACC, updated
            assert [cells(grid, i)[:4] for i in range(4)] == [
                ["concat", "0", "ok", "4/4"], ["lfm", "0", "running", "3/4"],
                ["concat", "1", "stalled", "2/4"], ["lfm", "1", "queued", ""]]
            assert cells(grid, 1)[4].endswith(" 68%") and cells(grid, 1)[5:7] == ["93.33", ""]
            assert cells(grid, 0)[5:7] == ["96.33", "98.00"]
            assert grid.border_title == "tiny_mfeat: 4 runs (1 ok, 1 running, 1 stalled, 1 queued)"

            append(runs["running"], rest[21:26])   # epoch 3's validation and its best checkpoint
            await until(pilot, lambda: cells(grid, 1)[5] == "96.00", what="the new best from the event file")

            await pilot.press("tab", "down", "enter")   # the running run: followed in the run screen
            await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run screen")
            followed = app.current
            assert followed.following and followed.state.epoch == 3 and followed.status == "running"
            append(runs["running"], rest[26:])
            await until(pilot, lambda: not followed.following, what="the run to finish")
            assert followed.status == "ok" and round(followed.state.best["acc"], 2) == 96.33
            header = app.screen.query_one("#run-header")
            await until(pilot, lambda: "finished" in str(header.render()), what="the header to say finished")

            await pilot.press("4")
            await until(pilot, lambda: cells(grid, 1)[2] == "ok", what="the grid to show it finished")
            grid.move_cursor(row=0)
            await pilot.press("enter")   # a finished run: replayed
            await until(pilot, lambda: app.current is not followed, what="the replay")
            assert app.current.replay and not app.current.following and app.current.status == "ok"
            assert [r["epoch"] for r in app.current.state.val_history] == [1, 2, 3, 4]

            await pilot.press("4")
            grid.move_cursor(row=3)
            await pilot.press("enter")   # queued: nothing to open
            await pilot.pause(0.2)
            assert len(app.sessions) == 2 and isinstance(app.screen, SweepScreen)
    asyncio.run(scenario())


def test_lfm_tui_opens_on_a_given_sweep_and_refuses_a_folder_that_is_not_one(tiny_mfeat: Path,
                                                                              tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "sw"
    fake_sweep(elsewhere, tiny_mfeat)
    app = make_app(RECIPES, tmp_path / "runs", cursor_blink=False, sweep_dirs=[elsewhere])

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await until(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweeps screen")
            grid = app.screen.query_one(SweepGrid)
            await until(pilot, lambda: grid.row_count == 4, what="the sweep's runs")
            assert grid.status.folder == elsewhere
    asyncio.run(scenario())
    res = CliRunner().invoke(cli, ["tui", str(RECIPES), "--sweep", str(tmp_path)])
    assert res.exit_code == 2 and "not a sweep folder" in res.output
