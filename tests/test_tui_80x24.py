"""Every screen of the dashboard in an 80x24 terminal: the numbers that matter stay in view
(table columns by priority, names shortened with `…`), chart titles kept, statuses whole, the
footer names the four screens, the stop message whole, a refusal said under the overrides and
checked again as they are typed, and the recipe list opening on a recipe that can run."""
from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, OptionList, Static

from lfm_tui.app import make_app
from lfm_tui.screens.compare import CompareScreen
from lfm_tui.screens.history import HistoryScreen
from lfm_tui.screens.history_rows import tensorboard_line
from lfm_tui.screens.sweeps import SweepScreen, middle_cut
from lfm_tui.widgets.compare_chart import CompareChart
from lfm_tui.widgets.fit import fit, shortened
from lfm_tui.widgets.run_header import RunHeader, fitted
from lfm_tui.widgets.sweep_grid import SweepGrid
from tests.test_tui_history import run_folder
from tests.test_tui_recipes import recipes_with_cremad
from tests.test_tui_snapshots import app as snapshot_app, live_session
from tests.tui_helpers import FIXED_NOW, FIXTURE, ROOT, reads_done, row_by_column, screen_text, until

from test_sweep_exec import fake_sweep

SIZE = (80, 24)
FOOTER = "1-4 screens"
STOP = "SIGINT sent: stopping after this step with a checkpoint (s again: SIGTERM)"


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


def x_labels(chart) -> list[str]:
    lines = chart.render().plain.splitlines()
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    return lines[bottom + 1].split()


def drive(app, scenario) -> None:
    async def main():
        async with app.run_test(size=SIZE) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await scenario(pilot)
    asyncio.run(main())


def test_history_keeps_status_val_and_test_acc_and_time_whole(tmp_path: Path) -> None:
    run_folder(tmp_path / "runs", "20261127-092227-0", "heuristic")
    run_folder(tmp_path / "runs", "20261128-100000-0", "constant", acc_shift=-3.0)
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", cursor_blink=False)

    async def scenario(pilot):
        await pilot.press("3")
        await reads_done(pilot)
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2 and "val ACC" in screen_text(app), what="the runs")
        heads = [str(c.label) for c in table.ordered_columns]
        # the low-priority columns left out (the hint line shows the overrides, tags and note whole)
        assert heads == [" ", "date", "recipe", "status", "method", "val ACC", "test ACC", "time", "epochs"]
        rows = [row_by_column(table, i) for i in range(2)]
        assert [r["date"] for r in rows] == ["11-28 10:00", "11-27 09:22"]
        assert [[r["status"], r["val ACC"], r["test ACC"], r["time"]] for r in rows] == [
            ["ok", "93.33", "95.00", "1:10"], ["ok", "96.33", "98.00", "1:10"]]
        lines = screen_text(app).splitlines()
        head = next(line for line in lines if "val ACC" in line)
        assert all(h in head for h in ("status", "val ACC", "test ACC", "time")) and head.endswith("│")
        for words in (("11-28 10:00", "ok", "93.33", "95.00", "1:10"), ("11-27 09:22", "ok", "96.33", "98.00", "1:10")):
            assert any(all(w in line for w in words) for line in lines), words
        assert footer(app).rstrip().endswith(FOOTER)
    drive(app, scenario)


def test_history_notices_are_said_under_the_filter_box_and_follow_the_marks(tmp_path: Path) -> None:
    """No toast over the filter box: `c` with too few runs marked is said in the line under it,
    and says how many are marked as space marks them; the hint's `N marked` stays whole."""
    run_folder(tmp_path / "runs", "20261127-092227-0", "heuristic")
    run_folder(tmp_path / "runs", "20261128-100000-0", "constant", acc_shift=-3.0)
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", cursor_blink=False)

    def below_box() -> list[str]:
        lines = [line.strip() for line in screen_text(app).splitlines()]
        box = next(i for i, line in enumerate(lines) if "│  2026" in line or line.startswith("│  2026"))
        return lines[box:]

    async def scenario(pilot):
        await pilot.press("3")
        await reads_done(pilot)
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2, what="the runs")
        await pilot.press("slash", *"2026", "enter", "c")  # enter: back to the table, the filter kept
        await until(pilot, lambda: "mark two" in app.screen.notice, what="the notice")
        assert list(app._notifications) == []  # nothing over the filter box
        lines = below_box()
        assert lines[0].startswith("│  2026") and lines[1].startswith("╰")  # the box in view, whole
        assert lines[2] == "⚠ mark two or more runs with space, then press c (0 marked)"
        assert lines[4].startswith("0 marked  lfm tensorboard")   # a long path: the count first, the command after
        await pilot.press("space")
        await until(pilot, lambda: "(1 marked)" in app.screen.notice, what="the notice after a mark")
        assert below_box()[4].startswith("1 marked  lfm tensorboard")
        await pilot.press("down", "space")
        await until(pilot, lambda: app.screen.notice == "2 marked: c compares them", what="two marked")
        app.screen.notify("runs/x: unreadable: damaged", severity="error", markup=False)
        await until(pilot, lambda: app.screen.notice == "✗ runs/x: unreadable: damaged", what="an error said")
        assert list(app._notifications) == [] and below_box()[2] == "✗ runs/x: unreadable: damaged"
        await pilot.press("slash", "backspace")  # the filter changed: the notice of before goes
        await until(pilot, lambda: app.screen.notice == "", what="the notice cleared")
    drive(app, scenario)


def test_a_long_note_leaves_the_tensorboard_line_and_the_marked_count_in_view(tmp_path: Path) -> None:
    """The hint under the table: the run's overrides and note in at most two rows (cut with `…`),
    then the TensorBoard command and how many runs are marked, never pushed out of view."""
    from engine.contract import annotations

    run = run_folder(tmp_path / "runs", "20261127-092227-0", "constant", lr=0.05)
    annotations.set_note(run, "the learning rate of the paper, tried again " * 4)
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", cursor_blink=False)

    async def scenario(pilot):
        await pilot.press("3")
        await reads_done(pilot)
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 1, what="the run")
        await pilot.press("space")
        await until(pilot, lambda: "1 marked" in screen_text(app), what="the marked count")
        lines = [line.rstrip() for line in screen_text(app).splitlines()]
        at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("1 marked  lfm tensorboard"))
        assert lines[at - 2].lstrip().startswith("mfeat/20261127-092227-0  optim.lr=0.05")
        assert lines[at - 1].endswith("…") and "tried again" in lines[at - 1]  # the note cut at the second row
        # a long path: the count first, then the command whole over the rows it needs (copyable)
        shown = "".join(lines[at:-1]).replace(" ", "")
        assert shown == f"1 marked lfm tensorboard {run}".replace(" ", "")
        assert lines[-1].endswith(FOOTER)
    drive(app, scenario)


def test_the_history_hint_keeps_the_marked_count_whole_at_any_width() -> None:
    command = "lfm tensorboard runs/mfeat/20261127-092227-0"
    assert tensorboard_line(command, 3, 120).plain == f"TensorBoard: {command}    3 marked"
    assert tensorboard_line(command, 3, 78).plain == f"TensorBoard: {command}    3 marked"
    assert tensorboard_line(command, 3, 60).plain == f"{command}  3 marked"
    assert tensorboard_line(command, 12, 40).plain == f"12 marked  {command}"   # whole, wrapped: copyable


def test_sweep_grid_keeps_statuses_and_accs_whole(tiny_mfeat: Path, tmp_path: Path) -> None:
    runs = fake_sweep(tmp_path / "runs" / "tiny_mfeat" / "sweep-20261128-100000", tiny_mfeat)
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", cursor_blink=False)

    async def scenario(pilot):
        await pilot.press("4")
        assert isinstance(app.screen, SweepScreen)
        grid = app.screen.query_one(SweepGrid)
        await until(pilot, lambda: grid.row_count == 4 and "test ACC" in screen_text(app), what="the grid")
        assert [str(c.label) for c in grid.ordered_columns] == ["method", "seed", "status", "done", "val ACC",
                                                                "test ACC"]
        rows = [row_by_column(grid, i) for i in range(4)]
        assert [r["status"] for r in rows] == ["ok", "running", "stalled", "queued"]
        assert [r["progress"] for r in rows] == ["100%", "68%", "41%", ""]  # the bar left out
        assert [[r["best val ACC"], r["test ACC"]] for r in rows[:2]] == [["96.33", "98.00"], ["93.33", ""]]
        listed = screen_text(app).splitlines()[2]
        assert listed.startswith("│ tiny_…100000  1/4")  # the sweep's name shortened in its middle, its runs shown
        # the queued run starts: its status, wider than `queued`, is drawn whole
        runs["queued"].mkdir(parents=True)
        (runs["queued"] / "events.jsonl").write_text("\n".join(FIXTURE.read_text().splitlines()[:21]) + "\n")
        await until(pilot, lambda: row_by_column(grid, 3)["status"] == "running", what="the queued run to start")
        await until(pilot, lambda: sum(" running " in line for line in screen_text(app).splitlines()) == 2,
                    what="both running statuses drawn whole")
        assert "runnin " not in screen_text(app)
        assert footer(app).rstrip().endswith(FOOTER)
    drive(app, scenario)


def test_compare_charts_keep_their_titles_and_whole_epoch_ticks(tmp_path: Path) -> None:
    a = run_folder(tmp_path / "runs", "20261127-092227-0", "heuristic")
    b = run_folder(tmp_path / "runs", "20261128-100000-0", "constant", acc_shift=-3.0)
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", cursor_blink=False)

    async def scenario(pilot):
        app.compare([a, b])
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare screen")
        titles = ("alpha by epoch", "fused val ACC", "pix val ACC", "mor val ACC")
        await until(pilot, lambda: all(f"─ {t} ─" in screen_text(app) for t in titles)
                    and all(x_labels(c) for c in app.screen.query(CompareChart))
                    and footer(app).strip() != "", what="the charts and the footer drawn")
        text = screen_text(app)
        for title in titles:
            assert f"─ {title} ─" in text, title  # on the chart's frame
        for chart in app.screen.query(CompareChart):
            labels = x_labels(chart)
            assert labels and all(re.fullmatch(r"\d+", t) for t in labels), labels  # epochs 1 to 4
            assert set(labels) <= {"1", "2", "3", "4"}
        assert footer(app).rstrip().endswith(FOOTER)
    drive(app, scenario)


class StubClient:
    """An engine client that takes a stop request (no process)."""
    running = False
    stop_sent = 0

    def request_stop(self) -> str:
        self.stop_sent += 1
        return "SIGINT"


def test_stop_message_and_tensorboard_command_whole_in_the_header() -> None:
    app = snapshot_app()
    session = live_session(60)
    session.client = StubClient()

    async def scenario(pilot):
        app.show_session(session)
        await until(pilot, lambda: type(app.screen).__name__ == "RunScreen", what="the run screen")
        await pilot.press("s")
        header = app.screen.query_one(RunHeader)
        await until(pilot, lambda: STOP in screen_text(app), what="the stop message")
        assert STOP in str(header.render())
        assert footer(app).rstrip().endswith(FOOTER)
        session.exit_code = 0  # no live run left: the app quits without asking
        app.open_recorded("tests/fixtures/runs/mfeat/20261127-092227-0")
        await reads_done(pilot)
        await until(pilot, lambda: "lfm tensorboard runs/mfeat/20261127-092227-0" in screen_text(app),
                    what="the TensorBoard command")
    drive(app, scenario)


def test_the_list_opens_on_a_runnable_recipe_and_a_refusal_follows_the_overrides(tmp_path: Path) -> None:
    missing = tmp_path / "no such folder"
    app = make_app(recipes_with_cremad(tmp_path, missing), tmp_path / "runs", cursor_blink=False)

    async def scenario(pilot):
        listed = app.screen.query_one(OptionList)
        assert str(listed.get_option_at_index(0).prompt) == "⚠ cremad"
        assert listed.highlighted == 1  # emoji
        check = app.screen.query_one("#override-check", Static)
        assert "✓ valid: Enter launches emoji.toml" in str(check.render())
        assert footer(app).rstrip().endswith(FOOTER)
        await pilot.press("up", "enter")  # cremad cannot run
        await until(pilot, lambda: str(check.render()).startswith("✗"), what="the refusal under the overrides")
        assert app.sessions == [] and list(app._notifications) == []  # nothing over the overrides box
        assert str(check.render()).startswith("✗ not launched: cremad needs its data on disk")
        await pilot.press("o", *"data.root=/tmp")
        await until(pilot, lambda: "not launched" not in str(check.render()), what="the check of what is typed")
        assert "data.root: /tmp" in str(check.render()) or "/tmp" in str(check.render())
        assert any("data.root=/tmp" in line for line in screen_text(app).splitlines())  # the box in view
    drive(app, scenario)


def test_fitting_helpers() -> None:
    keys, heads, rows = fit(["name", "status", "acc", "note"], [["a_long_recipe_name", "running", "96.33", "x" * 30]],
                            30, [("note", None, None), ("name", shortened(8), None), ("status", None, None)])
    assert keys == ["name", "status", "acc"] and rows == [["a_long_…", "running", "96.33"]]
    # a column left out comes back where it fits after the others were shortened
    keys, _, _ = fit(["a", "b", "c"], [["x" * 10, "y" * 10, "z" * 3]], 23, [("c", None, None), ("a", shortened(4), None)])
    assert keys == ["a", "b", "c"]
    assert fit(["a"], [["x" * 50]], 0, [("a", None, None)])[0] == ["a"]  # not laid out yet: all kept
    assert middle_cut("tiny_mfeat/sweep-20261128-100000", 16) == "tiny_mf…8-100000"
    long = "lfm tensorboard /home/someone/projects/lfm/runs/mfeat/20261127-092227-0"
    short = fitted(long, 48)
    assert len(short) <= 48 and short.startswith("lfm tensorboard …") and short.endswith("mfeat/20261127-092227-0")
    assert fitted("lfm tensorboard runs/x", 48) == "lfm tensorboard runs/x"
