"""Resuming in the dashboard: the resumed run shows its whole history (its events.jsonl replayed,
then the live engine), the stopped run's tab follows it, and a finished run is not resumed."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from textual.widgets import Tab

from engine.contract.events import parse_line, read_events
from lfm_tui.app import make_app
from lfm_tui.screens.run import RunScreen, tab_label
from lfm_tui.session import RunSession
from engine.contract.run_state import RunState
from lfm_tui.widgets.event_log import EventLog
from lfm_tui.widgets.metrics_table import MetricsTable
from tests.tui_helpers import FIXTURE, ROOT, fake, reads_done, until

RECIPES = ROOT / "tests" / "fixtures" / "recipes"  # emoji and mfeat, in that order
RESUMABLE = str(ROOT / "tests" / "fakes" / "resumable_engine.py")


def resumable(delay: float, seen: list, hold_at: int = 0):
    """Engine commands of the resumable fake engine; a new run waits at global step `hold_at`
    until it is stopped."""
    def command(args: list[str]) -> list[str]:
        seen.append(list(args))
        return [sys.executable, RESUMABLE, str(FIXTURE), str(delay), str(hold_at), *args]
    return command


def notes_of(app) -> list[str]:
    """The messages of the app's notifications, collected as they are posted."""
    notes: list[str] = []
    notify = app.notify

    def recording(message, *a, **kw):
        notes.append(str(message))
        return notify(message, *a, **kw)
    app.notify = recording
    return notes


def tab_text(app, session: RunSession) -> str:
    return str(app.screen.query_one(f"#run-{session.id}", Tab).label)


def log_text(app) -> str:
    return "\n".join(str(line.text) for line in app.screen.query_one(EventLog).lines)


def test_a_resumed_run_shows_its_whole_history(tmp_path: Path) -> None:
    seen: list = []
    app = make_app(RECIPES, tmp_path / "runs", command=resumable(0.02, seen, hold_at=30), cursor_blink=False)
    recorded = read_events(str(FIXTURE))
    all_steps = [e["global_step"] for e in recorded if e.type == "step"]

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            notes = notes_of(app)
            await pilot.press("down", "enter")  # mfeat
            first = app.current
            await until(pilot, lambda: first.state.global_step == 30, what="epoch 2 under way")
            await pilot.press("s")
            await until(pilot, lambda: not first.live, what="stop")
            assert first.status == "cancelled" and first.exit_code == 130
            assert (first.state.epoch, first.state.step, first.state.global_step) == (2, 8, 30)
            await pilot.press("r")
            assert notes == []
            resumed = app.current
            assert len(app.sessions) == 2 and resumed is app.sessions[1]
            assert resumed.args == ["--resume", first.state.run_dir]
            assert first.status == "resumed"
            assert str(tab_label(1, first)).startswith("↻ 1. mfeat")  # what its tab shows while it runs
            (Path(first.state.run_dir) / "release").touch()  # the resumed engine goes on
            await until(pilot, lambda: not resumed.live, what="the resumed run to end")
            await until(pilot, lambda: "epoch 4: train loss 0.6920" in log_text(app)
                        and tab_text(app, first).startswith("✓"), what="the panels redrawn")
            s = resumed.state  # the engine reported what followed the stop; the rest is replayed
            assert resumed.status == "ok" and resumed.exit_code == 0
            assert [p[0] for p in s.losses["total"]] == all_steps  # epoch 1 to the end, once each
            assert s.losses["total"][0] == (6, recorded[1]["losses"]["total"])
            assert sorted(s.alpha_by_epoch) == [1, 2, 3, 4]
            assert round(s.alpha_by_epoch[1], 4) == 0.6321
            assert [r["epoch"] for r in s.val_history] == [1, 2, 3, 4]
            text = log_text(app)
            assert "epoch 1: train loss 2.9239" in text and "epoch 4: train loss 0.6920" in text
            assert "resumed at epoch 2, step 8" in text
            table = app.screen.query_one(MetricsTable)
            gap_row = [table.get_row_at(i) for i in range(table.row_count)][3]
            assert str(gap_row[0]) == "accuracy gap (ACC pts)" and gap_row[4] == "min 6.00"  # epoch 1's gap
            assert first.status == "ok"  # the stopped run's tab follows its run
            assert tab_text(app, first).startswith("✓ 1. mfeat") and tab_text(app, resumed).startswith("✓ 2. mfeat")
            await pilot.press("left_square_bracket")
            assert app.current is first
            await until(pilot, lambda: "resumed: the whole run is in the tab mfeat (resumed)" in
                        str(app.screen.query_one("#run-header").render()), what="the stopped run's header")
            await pilot.press("r")
            assert notes and "has finished: nothing to resume" in notes[-1]
            assert len(app.sessions) == 2
    asyncio.run(scenario())
    run_dir = tmp_path / "runs" / "mfeat" / "20261127-092227-0"
    assert seen == [[str(RECIPES / "mfeat.toml"), "--runs-dir", str(tmp_path / "runs")], ["--resume", str(run_dir)]]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "ok"


def test_r_on_a_finished_run_is_refused_and_starts_no_engine(tmp_path: Path) -> None:
    seen: list = []
    app = make_app(RECIPES, tmp_path / "runs", command=fake("replay", seen=seen), cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            notes = notes_of(app)
            await pilot.press("down", "enter")
            await until(pilot, lambda: not app.current.live, what="run end")
            assert app.current.status == "ok"
            await pilot.press("r")
            await pilot.pause()
            assert isinstance(app.screen, RunScreen) and len(app.sessions) == 1
            assert notes == ["mfeat/20261127-092227-0 has finished: nothing to resume"]
    asyncio.run(scenario())
    assert len(seen) == 1


def test_history_beyond_the_checkpoint_is_replaced_by_the_resumed_engine() -> None:
    """An engine killed after its checkpoint at epoch 2, step 8 (global step 30) left steps 36
    and 42 in events.jsonl; the resumed engine reports them again."""
    events = [parse_line(line) for line in FIXTURE.read_text().splitlines()]
    started = events[0]
    at = {e["global_step"]: i for i, e in enumerate(events) if e.type == "step"}
    resumed = parse_line(json.dumps({"v": 1, "type": "run_started", "seq": 0, "time": 5.0,
                                     **started.data, "resumed_from": {"epoch": 2, "step": 8}}))
    state = RunState()
    for ev in events[:at[44]]:
        state.apply(ev)
    state.apply(resumed)
    assert [p[0] for p in state.losses["total"]] == [6, 12, 18, 22, 24, 30]
    assert (state.epoch, state.step, state.global_step) == (2, 8, 30)
    assert [r["epoch"] for r in state.val_history] == [1] and state.status == "running"
    assert sorted(state.alpha_by_epoch) == [1, 2]
    session = RunSession.from_events([*events[:at[44]], resumed, *events[at[36]:]], label="x")
    assert [p[0] for p in session.state.losses["total"]] == sorted(at)
    assert [r["epoch"] for r in session.state.val_history] == [1, 2, 3, 4]
    assert session.state.status == "ok"
