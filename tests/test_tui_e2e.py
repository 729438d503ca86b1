"""End to end: the dashboard launches a tiny real mfeat run and shows it finished."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from textual.widgets import Input

from lfm_tui.app import make_app
from lfm_tui.screens.run import RunScreen
from lfm_tui.widgets.metrics_table import MetricsTable
from tests.tui_helpers import ROOT, until


def test_dashboard_runs_a_real_recipe_to_the_end(tmp_path: Path) -> None:
    app = make_app(ROOT / "recipes", tmp_path / "runs", cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("down", "o")  # mfeat
            app.screen.query_one(Input).value = "train.epochs=1 train.threads=1 train.log_every=5"
            await pilot.pause()
            await pilot.press("enter")
            s = app.current
            await until(pilot, lambda: not s.live, timeout=240, what="the engine to finish")
            await pilot.pause(0.3)
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
