"""The run screen is told what changed, never polls: a session says which kind of thing changed,
a burst of events is drawn once with all of it, the status shown is the session's own, and each
panel draws plain values handed to it."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from textual.app import App, ComposeResult

from engine.contract.events import parse_line, read_events
from lfm_tui.app import make_app
from lfm_tui.run_messages import Progressed
from lfm_tui.screens.dialogs import FailureDialog
from lfm_tui.screens.run import MARK, RunScreen
from lfm_tui.session import Change, RunSession
from lfm_tui.widgets.alpha_chart import AlphaChart
from lfm_tui.widgets.event_log import EventLog
from lfm_tui.widgets.loss_chart import LossChart
from lfm_tui.widgets.metrics_table import MetricsTable, validation_rows
from lfm_tui.widgets.run_header import HeaderView, RunHeader
from tests.test_tui_snapshots import app as snapshot_app
from tests.test_tui_resume import resumable
from tests.tui_helpers import FIXTURE, ROOT, reads_done, until

RECIPES = ROOT / "tests" / "fixtures" / "recipes"
BURST = 2000


def steps(first: int, n: int) -> list:
    """`n` step events after the recorded run's start, global steps first .. first + n - 1."""
    template = next(e for e in read_events(str(FIXTURE)) if e.type == "step")
    return [parse_line(json.dumps({**template.data, "v": 1, "type": "step", "seq": 100 + i,
                                   "time": template.time + i, "global_step": first + i,
                                   "losses": {"total": 1.0 + 1 / (i + 1), "cls": 0.5, "mm": 0.25}}))
            for i in range(n)]


def header_text(app) -> str:
    return str(app.screen.query_one(RunHeader).render())


def test_each_event_says_what_it_changed() -> None:
    seen: list[tuple[str, Change]] = []
    s = RunSession(label="x", listener=lambda session, change: seen.append((kind, change)))
    for ev in read_events(str(FIXTURE)):
        kind = ev.type
        s.feed(ev)
    by_kind: dict[str, set] = {}
    for kind, change in seen:
        by_kind.setdefault(kind, set()).add(change)
    assert by_kind["step"] == {Change.PROGRESS}
    assert by_kind["eval"] == {Change.EVALUATION} and by_kind["checkpoint"] == {Change.EVALUATION}
    assert by_kind["log"] == {Change.LOG}
    assert by_kind["run_started"] == {Change.PROGRESS | Change.EVALUATION | Change.STATUS}
    assert by_kind["run_finished"] == {Change.STATUS | Change.EVALUATION}
    assert s.run_status == "ok" and s.status == "running"  # as the engine said; its process not yet exited


def test_a_burst_of_steps_is_drawn_once_with_all_its_points() -> None:
    """What a worker does with a chunk of engine output read at once: every step fed before the
    screen runs again; the screen draws the charts far fewer times than there were steps."""
    session = RunSession(label="mfeat", args=["x"])
    for ev in read_events(str(FIXTURE)):
        if ev.type == "step":
            break
        session.feed(ev)
    drawn: list[int] = []

    async def scenario():
        app = snapshot_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)
            app.show_session(session)
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_running, what="run screen")
            await pilot.pause()
            screen, chart = app.screen, app.screen.query_one(LossChart)
            handled: list = []
            screen.message_signal.subscribe(screen, lambda m: handled.append(m) if isinstance(m, Progressed) else None,
                                            immediate=True)
            show = chart.show
            chart.show = lambda losses: (drawn.append(len(losses["total"])), show(losses))[1]
            for ev in steps(1, BURST):
                session.feed(ev)
            await pilot.pause()
            return handled, chart.x_range, header_text(app)
    handled, x_range, header = asyncio.run(scenario())
    assert 1 <= len(handled) <= BURST // 100, len(handled)
    assert len(drawn) == len(handled) and drawn[-1] == BURST  # every point handed to the chart
    assert x_range == (1, BURST)  # thinned to the chart's width, the last point kept
    assert f"step {session.state.step}/" in header


def test_the_status_shown_is_the_sessions_after_a_failure_and_a_cancel(tmp_path: Path) -> None:
    app = make_app(RECIPES, tmp_path / "runs", cursor_blink=False, command=resumable(0.0, [], hold_at=30))

    def shown(session: RunSession) -> tuple[str, str]:
        view = app.screen.query_one(RunHeader).view
        return view.status, str(app.screen.query_one(f"#run-{session.id}").label)[0]

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)
            await pilot.press("down", "enter")
            cancelled = app.current
            await until(pilot, lambda: cancelled.state.global_step == 30, what="the engine waiting at step 30")
            await pilot.press("s")
            await until(pilot, lambda: not cancelled.live, what="stop")
            await pilot.pause()
            assert cancelled.status == "cancelled"
            assert shown(cancelled) == ("cancelled", MARK["cancelled"]) and "stopped" in header_text(app)
            app.command = lambda args: [str(tmp_path / "no-such-engine")]
            await pilot.press("1", "enter")  # the engine cannot start: the worker fails
            await until(pilot, lambda: isinstance(app.screen, FailureDialog), what="failure dialog")
            failed = app.current
            await pilot.press("escape")
            await pilot.pause()
            assert failed.status == "failed" and "FileNotFoundError" in failed.error and failed.exit_code == -1
            assert shown(failed) == ("failed", MARK["failed"])
            assert f"failed: {failed.error}" in header_text(app)
    asyncio.run(scenario())


def test_panels_draw_plain_values_without_a_session() -> None:
    class Panels(App):
        def compose(self) -> ComposeResult:
            yield RunHeader()
            yield LossChart()
            yield AlphaChart()
            yield MetricsTable()
            yield EventLog()

    val = [{"epoch": 1, "fused": {"acc": 80.0, "map": 70.0, "f1": 60.0}, "gap": 4.0,
            "modalities": {"pix": {"acc": 75.0}}},
           {"epoch": 2, "fused": {"acc": 85.5, "map": 72.0, "f1": 65.0}, "gap": 2.0,
            "modalities": {"pix": {"acc": 70.0}}}]

    async def scenario():
        app = Panels()
        async with app.run_test(size=(100, 60)) as pilot:
            header = app.query_one(RunHeader)
            header.show(HeaderView(status="running", title="mfeat", epoch=2, epochs=4, step=3, steps_per_epoch=10,
                                   progress=0.325, live=True, elapsed=65, remaining=120))
            app.query_one(LossChart).show({"total": [(1, 2.0), (2, 1.5), (3, 1.0)], "cls": [], "mm": [(1, 0.5)]})
            app.query_one(AlphaChart).show({1: 0.4, 2: 0.6}, {})
            app.query_one(MetricsTable).show(*validation_rows(val, ["pix"], None, {"epoch": 2}))
            app.query_one(EventLog).show("run", [("info", "epoch 1 done"), ("warning", "slow")], 2)
            await pilot.pause()
            text = str(header.render())
            assert "running" in text and "epoch 2/4  step 3/10" in text and " 32%" in text
            assert "elapsed 1:05  remaining 2:00" in text
            header.show_clock(66, 119)
            assert "elapsed 1:06  remaining 1:59" in str(header.render())
            loss, alpha = app.query_one(LossChart), app.query_one(AlphaChart)
            assert loss.x_range == (1, 3) and loss.y_range == (0.5, 2.0)
            assert alpha.has_alpha and alpha.x_range == (1, 2)
            table = app.query_one(MetricsTable)
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            assert [str(r[0]) for r in rows] == ["fused", "pix", "accuracy gap (ACC pts)"]
            assert rows[0][1:] == ["85.50", "72.00", "65.00", "85.50", "72.00", "65.00"]
            assert rows[1][1] == "70.00" and rows[1][4] == "75.00" and rows[2][4] == "min 2.00"
            assert table.border_title == "validation, epoch 2 (best.pt: epoch 2)"
            log = app.query_one(EventLog)
            assert [str(l.text) for l in log.lines] == ["epoch 1 done", "[warning] slow"]
            log.show("run", [("info", "epoch 1 done"), ("warning", "slow"), ("error", "boom")], 3)
            assert [str(l.text) for l in log.lines][-1] == "[error] boom" and len(log.lines) == 3
    asyncio.run(scenario())
