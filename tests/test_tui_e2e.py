"""End to end: the dashboard launches a tiny real mfeat run and shows it finished."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.widgets import Input

from lfm_tui.app import make_app
from lfm_tui.screens.run import RunScreen
from lfm_tui.widgets.metrics_table import MetricsTable
from tests.tui_helpers import ROOT, reads_done, until


async def launch_mfeat(app, pilot, overrides: str):
    """mfeat chosen in the recipe list, `overrides` typed, Enter: the new run's session."""
    await pilot.press("down", "o")  # mfeat
    app.screen.query_one(Input).value = overrides
    await pilot.pause()
    await pilot.press("enter")
    return app.current


@pytest.mark.slow
def test_dashboard_runs_a_real_recipe_to_the_end(tmp_path: Path) -> None:
    app = make_app(ROOT / "recipes", tmp_path / "runs", cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            s = await launch_mfeat(app, pilot, "train.epochs=1 train.threads=1 train.log_every=5")
            await until(pilot, lambda: not s.live, timeout=240, what="the engine to finish")
            await pilot.pause()
            assert isinstance(app.screen, RunScreen)
            header = str(app.screen.query_one("#run-header").render())
            assert "finished" in header and "epoch 1/1" in header and "100%" in header
            assert app.screen.query_one(MetricsTable).row_count >= 4
            return s
    s = asyncio.run(scenario())
    assert s.exit_code == 0 and s.status == "ok", s.stderr_text()
    assert len(s.state.val_history) == 1 and s.state.test is not None
    assert s.state.losses["total"] and s.state.alpha_by_epoch == {1: 1 - 2.718281828459045 ** -1}
    summary = json.loads((Path(s.state.run_dir) / "summary.json").read_text())
    assert summary["status"] == "ok" and Path(s.state.run_dir).parent.parent == tmp_path / "runs"


@pytest.mark.slow
def test_dashboard_resumes_a_real_run_with_its_whole_history(tmp_path: Path) -> None:
    """A real mfeat run stopped in its second epoch and resumed with `r`: the resumed tab holds
    every logged step once, epoch 1 included, and ends where an uninterrupted run would."""
    app = make_app(ROOT / "recipes", tmp_path / "runs", cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            first = await launch_mfeat(app, pilot, "train.epochs=3 train.threads=1 train.log_every=5 review.gap_samples=0")
            await until(pilot, lambda: first.state.epoch >= 2, timeout=240, what="epoch 2")
            await pilot.press("s")
            await until(pilot, lambda: not first.live, timeout=120, what="the stop")
            assert first.status == "cancelled", first.stderr_text()
            await pilot.press("r")
            resumed = app.current
            assert resumed is not first and first.status == "resumed"
            await until(pilot, lambda: not resumed.live, timeout=240, what="the resumed run")
            return first, resumed
    first, resumed = asyncio.run(scenario())
    s = resumed.state
    assert resumed.status == "ok" and first.status == "ok", resumed.stderr_text()
    steps = [p[0] for p in s.losses["total"]]
    assert steps == sorted(set(steps)) and steps[0] == 5 and steps[-1] == 3 * s.steps_per_epoch
    assert sorted(s.alpha_by_epoch) == [1, 2, 3] and [r["epoch"] for r in s.val_history] == [1, 2, 3]
    assert any(text.startswith("epoch 1: train loss") for _, text in resumed.logs)
