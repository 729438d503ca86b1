"""The dashboard driven by Pilot against fake engines: launching, stopping, resuming, a crash, an
engine that ignores SIGINT, garbage output, quitting, history, comparison and help."""
from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import DataTable, Input, Static

from lfm_tui.app import make_app
from lfm_tui.screens.compare import CompareScreen
from lfm_tui.screens.dialogs import ConfirmQuit, FailureDialog, HelpScreen
from lfm_tui.screens.history import HistoryScreen
from lfm_tui.screens.recipes import RecipesScreen
from lfm_tui.screens.run import RunScreen
from lfm_tui.widgets.event_log import EventLog
from lfm_tui.widgets.metrics_table import MetricsTable
from tests.tui_helpers import FIXED_NOW, ROOT, fake, reads_done, recorded_run, row_by_column, until

RECIPES = ROOT / "tests" / "fixtures" / "recipes"  # emoji and mfeat, in that order


def app_for(tmp_path: Path, command, **kw):
    return make_app(RECIPES, tmp_path / "runs", command=command, cursor_blink=False, **kw)


def test_launch_replays_events_into_the_panels(tmp_path: Path) -> None:
    seen: list = []
    app = app_for(tmp_path, fake("replay", delay=0.01, seen=seen))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            assert isinstance(app.screen, RecipesScreen)
            await pilot.press("down", "enter")  # emoji, mfeat: mfeat
            await until(pilot, lambda: app.current is not None and not app.current.live, what="run end")
            await pilot.pause()  # the messages of the last events drawn
            s = app.current
            assert isinstance(app.screen, RunScreen)
            assert s.status == "ok" and s.exit_code == 0
            assert [len(s.state.losses[k]) for k in ("total", "cls", "mm")] == [17, 17, 17]
            assert [r["epoch"] for r in s.state.val_history] == [1, 2, 3, 4]
            assert round(s.state.best["acc"], 2) == 96.33
            table = app.screen.query_one(MetricsTable)
            assert table.row_count == 6  # fused, pix, mor, accuracy gap, feature gap, test
            assert str(table.get_row_at(0)[0]) == "fused" and table.get_row_at(0)[1] == "96.33"
            assert [str(table.get_row_at(i)[0]) for i in (3, 4)] == [
                "accuracy gap (ACC pts)", "feature gap (n=300)"]
            log = app.screen.query_one(EventLog)
            text = "\n".join(str(line.text) for line in log.lines)
            assert "epoch 1: train loss 2.9239" in text and "engine warming up" in text
            header = str(app.screen.query_one("#run-header").render())
            assert "finished" in header and "epoch 4/4" in header and "100%" in header
    asyncio.run(scenario())
    assert seen == [[str(RECIPES / "mfeat.toml"), "--runs-dir", str(tmp_path / "runs")]]


def test_overrides_are_checked_as_typed_and_block_a_bad_launch(tmp_path: Path) -> None:
    seen: list = []
    app = app_for(tmp_path, fake("replay", seen=seen))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("down", "o")
            await pilot.press(*"train.epochs=0 alpha.strategy=constnt")
            check = str(app.screen.query_one("#override-check", Static).render())
            assert "train.epochs: expected a value >= 1, found 0" in check
            assert "alpha.strategy: expected one of" in check and "did you mean 'constant'" in check
            await pilot.press("enter")
            assert app.sessions == []
            app.screen.query_one(Input).value = "train.epochs=2 alpha.strategy=constant"
            await pilot.pause()
            assert "valid with 2 overrides" in str(app.screen.query_one("#override-check", Static).render())
            await pilot.press("enter")
            await until(pilot, lambda: app.sessions and not app.sessions[0].live, what="run end")
    asyncio.run(scenario())
    assert seen[0][1:3] == ["train.epochs=2", "alpha.strategy=constant"]


def test_stop_sends_sigint_and_resume_starts_from_the_run_folder(tmp_path: Path) -> None:
    folder = recorded_run(tmp_path / "src", checkpoint=True, summary=False)
    seen: list = []
    first, resumed = fake("hold", folder / "events.jsonl", seen=seen), fake("replay", folder / "events.jsonl", 0.05, seen)
    # the first run waits at step 12 for the stop, however slow the machine; the resumed one runs on
    app = app_for(tmp_path, lambda args: (resumed if "--resume" in args else first)(args))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("down", "enter")
            s = app.current
            await until(pilot, lambda: s.state.global_step >= 12, what="a few steps")
            await pilot.press("s")
            assert "SIGINT sent" in s.stop_note
            await until(pilot, lambda: not s.live, what="stop")
            assert s.exit_code == 130 and s.status == "cancelled"
            assert s.state.global_step < 88  # stopped before the end
            assert s.resumable()
            await pilot.press("r")
            assert len(app.sessions) == 2 and app.current is app.sessions[1]
            await until(pilot, lambda: not app.current.live, what="resumed run end")
            assert app.current.status == "ok"
            await pilot.press("left_square_bracket")
            assert app.current is app.sessions[0]
            assert not isinstance(app.screen, FailureDialog)
    asyncio.run(scenario())
    assert seen[1] == ["--resume", str(folder)]


def test_engine_ignoring_sigint_is_terminated_on_the_second_stop(tmp_path: Path) -> None:
    app = app_for(tmp_path, fake("stubborn", delay=0.01))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("down", "enter")
            s = app.current
            await until(pilot, lambda: s.state.status == "ok", what="replayed events")  # still alive
            assert s.live
            await pilot.press("s")
            await pilot.pause(0.5)
            assert s.live and s.status == "stopping"  # SIGINT ignored
            await pilot.press("s")
            assert "SIGTERM sent" in s.stop_note
            await until(pilot, lambda: not s.live, what="termination")
            assert s.exit_code == -15
            assert not isinstance(app.screen, FailureDialog)
    asyncio.run(scenario())


def test_crash_shows_the_traceback_and_the_app_keeps_working(tmp_path: Path) -> None:
    app = app_for(tmp_path, fake("crash", events=None))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, FailureDialog), what="failure dialog")
            s = app.current
            assert s.status == "failed" and s.exit_code == 1
            assert "exited with status 1" in s.error
            assert "RuntimeError: boom" in s.traceback
            text = " ".join(str(w.render()) for w in app.screen.query(Static))
            assert "RuntimeError: boom" in text and "exit status 1" in text
            await pilot.press("escape")
            assert isinstance(app.screen, RunScreen)
            assert "failed" in str(app.screen.query_one("#run-header").render())
            await pilot.press("1")
            assert isinstance(app.screen, RecipesScreen)
            await pilot.press("enter")  # a second launch still works
            await until(pilot, lambda: len(app.sessions) == 2 and not app.sessions[1].live)
    asyncio.run(scenario())


def test_garbage_output_marks_the_run_failed(tmp_path: Path) -> None:
    app = app_for(tmp_path, fake("garbage", events=None))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, FailureDialog), what="failure dialog")
            s = app.current
            assert s.status == "failed" and s.exit_code == 0
            assert "without reporting a result" in s.error
            assert ("stdout", "{not json") in list(s.logs)
    asyncio.run(scenario())


def test_engine_that_cannot_start_fails_in_a_dialog(tmp_path: Path) -> None:
    app = app_for(tmp_path, lambda args: [str(tmp_path / "no-such-engine")])

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, FailureDialog), what="failure dialog")
            assert "FileNotFoundError" in app.current.error
            assert app.current.status == "failed"
    asyncio.run(scenario())


def test_quit_asks_while_a_run_is_live_and_stops_it(tmp_path: Path) -> None:
    app = app_for(tmp_path, fake("stubborn", delay=0.01), stop_grace=0.5)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("enter")
            s = app.current
            await until(pilot, lambda: s.state.global_step > 0)
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmQuit)
            await pilot.press("n")
            assert isinstance(app.screen, RunScreen) and s.live
            await pilot.press("q", "y")
            await until(pilot, lambda: not s.client.running, what="engine stopped")
        return s
    s = asyncio.run(scenario())
    assert s.client.proc.returncode == -15  # SIGINT ignored, then SIGTERM after the grace


def test_quit_without_live_runs_exits_at_once(tmp_path: Path) -> None:
    app = app_for(tmp_path, fake("replay"))

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape", "q")
            await pilot.pause()
    asyncio.run(scenario())
    assert app.return_code == 0


def test_history_lists_replays_and_compares_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    a = recorded_run(runs, "20261127-092227-0")
    b = recorded_run(runs, "20261128-100000-1", summary=False, scale_alpha=0.5, cut=20)
    app = app_for(tmp_path, fake("replay"))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("3")
            await reads_done(pilot)
            assert isinstance(app.screen, HistoryScreen)
            table = app.screen.query_one(DataTable)
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            assert [str(r[1]) for r in rows] == ["2026-11-28 10:00:00", "2026-11-27 09:22:27"]
            assert [str(r[3]) for r in rows] == ["incomplete", "ok"]
            assert row_by_column(table, 1)["val ACC"] == "96.33"
            assert row_by_column(table, 1)["test ACC"] == ""  # its summary.json holds no test
            # the best of the epochs it reached; no test
            assert [row_by_column(table, 0)[k] for k in ("val ACC", "test ACC")] == ["93.33", ""]
            hint = str(app.screen.query_one("#history-hint", Static).render())
            assert f"lfm tensorboard {b}" in hint
            await pilot.press("c")  # nothing marked: a warning, no screen
            assert isinstance(app.screen, HistoryScreen)
            await pilot.press("space", "down", "space", "c")
            assert isinstance(app.screen, CompareScreen)
            cmp = app.screen
            assert [s.label for s in cmp.sessions] == ["mfeat/20261128-100000-1", "mfeat/20261127-092227-0"]
            assert cmp.modalities == ["pix", "mor"]
            assert len(cmp.query("CompareChart")) == 4  # alpha, fused, pix, mor
            alphas = [s.state.alpha_by_epoch for s in cmp.sessions]
            assert alphas[0][1] == alphas[1][1] * 0.5
            await pilot.press("escape", "enter")
            assert isinstance(app.screen, RunScreen)
            s = app.current
            assert s.replay and s.status == "ok" and s.label == "mfeat/20261127-092227-0"
            assert len(s.state.val_history) == 4 and s.elapsed() > 0
            assert f"lfm tensorboard {a}" in str(app.screen.query_one("#run-header").render())
    asyncio.run(scenario())


def test_replayed_state_matches_a_live_one(tmp_path: Path) -> None:
    """The same events, replayed from a file or read live from an engine, give the same state."""
    folder = recorded_run(tmp_path / "runs")
    app = app_for(tmp_path, fake("replay", folder / "events.jsonl"))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("enter")
            await until(pilot, lambda: not app.current.live)
            live = app.current
            app.open_recorded(folder)  # read in a worker, shown once read
            await reads_done(pilot)
            assert app.current is not live
            return live, app.current
    live, replayed = asyncio.run(scenario())
    for field in ("val_history", "alpha_by_epoch", "best", "test", "status", "global_step"):
        assert getattr(live.state, field) == getattr(replayed.state, field), field
    assert {k: list(v) for k, v in live.state.losses.items()} == \
        {k: list(v) for k, v in replayed.state.losses.items()}


def test_session_pace_gives_the_remaining_time() -> None:
    from engine.contract.events import parse_line
    from lfm_tui.session import RunSession
    from tests.tui_helpers import FIXTURE

    s = RunSession(label="x", clock=lambda: FIXED_NOW)
    events = [parse_line(l) for l in FIXTURE.read_text().splitlines()]
    steps = [e for e in events if e.type == "step"]
    for ev in events[:events.index(steps[7]) + 1]:
        s.feed(ev)
    first, last = steps[0], steps[7]
    pace = (last.time - first.time) / (last["global_step"] - first["global_step"])
    assert abs(s.remaining() - pace * (88 - last["global_step"])) < 1e-9
    assert abs(s.progress() - last["global_step"] / 88) < 1e-9
