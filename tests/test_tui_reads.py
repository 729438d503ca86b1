"""The dashboard never waits on a file: run folders, sweep folders and recipe files are read in
workers (the screen says `reading…` and answers keys meanwhile), and what they read is bounded
(lfm_tui/limits.py): the runs the history lists, the bytes of each events.jsonl it reads, the
bytes a replay reads."""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

from textual.widgets import DataTable, OptionList

from lfm_tui import catalog, history, limits
from lfm_tui.app import make_app
from lfm_tui.screens.history import HistoryScreen
from lfm_tui.screens.recipes import RecipesScreen
from lfm_tui.screens.run import RunScreen
from lfm_tui.screens.sweeps import SweepScreen
from lfm_tui.sweep_status import SweepStatus
from lfm_tui.widgets.sweep_grid import SweepGrid
from tests.tui_helpers import FIXTURE, ROOT, fake, reads_done, recorded_run, until

from test_sweep_exec import fake_sweep

RECIPES = ROOT / "tests" / "fixtures" / "recipes"
HOLD_S = 30.0  # a held read goes on at the latest after this; a key is answered well within it


def slowed(monkeypatch, owner, name: str) -> threading.Event:
    """`owner.name` made slow: each call is held until the returned event is set (or HOLD_S
    passes), so that the read is certainly still going on while the test presses keys."""
    original = getattr(owner, name)
    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(HOLD_S)
        return original(*args, **kwargs)
    monkeypatch.setattr(owner, name, slow)
    return release


def reading(app, group: str) -> bool:
    return any(w.group == group and not w.is_finished for w in app.workers)


def app_for(tmp_path: Path):
    return make_app(RECIPES, tmp_path / "runs", command=fake("replay"), cursor_blink=False)


def test_history_answers_keys_while_a_slow_runs_folder_is_read(tmp_path: Path, monkeypatch) -> None:
    recorded_run(tmp_path / "runs")
    release = slowed(monkeypatch, history, "_read")
    app = app_for(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)
            await pilot.press("3")
            assert isinstance(app.screen, HistoryScreen) and reading(app, "history-read")
            title = str(app.screen.query_one(DataTable).border_title)
            hint = str(app.screen.query_one("#history-hint").render())
            t0 = time.monotonic()
            await pilot.press("1")
            answered = time.monotonic() - t0
            assert isinstance(app.screen, RecipesScreen)
            assert answered < HOLD_S and reading(app, "history-read"), f"the key waited {answered:.2f} s"
            assert title.endswith("(reading…)") and hint.startswith("reading ")
            release.set()
            await pilot.press("3")
            await reads_done(pilot)
            assert [r.run_id for r in app.screen.runs] == ["mfeat/20261127-092227-0"]
            assert str(app.screen.query_one(DataTable).border_title).endswith("(1)")
    asyncio.run(scenario())


def test_history_lists_the_newest_runs_up_to_its_limit_and_counts_the_rest(tmp_path: Path,
                                                                          monkeypatch) -> None:
    monkeypatch.setattr(limits, "HISTORY_MAX_RUNS", 3)
    runs = tmp_path / "runs"
    folders = [recorded_run(runs, f"2026112{n}-100000-0") for n in range(5)]
    for age, folder in enumerate(folders):  # the first named is the newest by modification time
        os.utime(folder, (1_795_000_000 - 3600 * age,) * 2)
    app = app_for(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await reads_done(pilot)
            table = app.screen.query_one(DataTable)
            assert table.row_count == 3
            assert [r.path.name for r in app.screen.runs] == \
                ["20261122-100000-0", "20261121-100000-0", "20261120-100000-0"]
            assert str(table.border_title) == f"runs in {runs} (3, 2 older not listed)"
    asyncio.run(scenario())


def test_history_reads_the_start_and_end_of_a_long_event_file(tmp_path: Path, monkeypatch) -> None:
    """A run whose events.jsonl is past the bytes the history reads of it: its recipe (from the
    start), status, best ACC and time (from the end) are still shown; the middle is not read."""
    monkeypatch.setattr(limits, "HISTORY_EVENTS_HEAD_BYTES", 8 * 1024)
    monkeypatch.setattr(limits, "HISTORY_EVENTS_TAIL_BYTES", 8 * 1024)
    folder = recorded_run(tmp_path / "runs", summary=False)
    events = FIXTURE.read_text().splitlines()
    first, last = json.loads(events[0]), json.loads(events[-1])
    pad = json.dumps({"v": 1, "type": "log", "seq": 1, "time": first["time"], "level": "info",
                      "message": "x" * 1000})
    head, rest = events[:1], events[1:]
    lines = [*head, *[pad] * 2000, *rest]  # 2 MB of log lines after run_started
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    seen = []
    original = history.event_lines

    def spy(*args):
        out = original(*args)
        seen.append(sum(len(line) + 1 for line in out))
        return out
    monkeypatch.setattr(history, "event_lines", spy)
    info = history.read_run(folder)
    assert seen and seen[0] <= 16 * 1024 and (folder / "events.jsonl").stat().st_size > 2_000_000
    assert info.status == last["status"] == "ok" and info.best_acc == last["best"]["acc"]
    assert info.method == "lfm" and info.epochs_done == 4
    assert abs(info.seconds - (last["time"] - first["time"])) < 1e-6


def test_event_lines_keeps_whole_lines_of_the_head_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f"line {n:03d}\n" for n in range(100)))  # 9 bytes a line
    assert history.event_lines(path, 20, 20) == ["line 000", "line 001", "line 098", "line 099"]
    assert history.event_lines(path, 900, 0) == [f"line {n:03d}" for n in range(100)]


def test_a_replay_past_its_limit_is_cut_and_says_so(tmp_path: Path, monkeypatch) -> None:
    folder = recorded_run(tmp_path / "runs")
    size = (folder / "events.jsonl").stat().st_size
    monkeypatch.setattr(limits, "REPLAY_MAX_BYTES", size // 2)
    whole = len(FIXTURE.read_text().splitlines())
    app = app_for(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)
            app.open_recorded(folder)
            await reads_done(pilot)
            assert isinstance(app.screen, RunScreen)
            return app.current
    session = asyncio.run(scenario())
    events, cut = history.recorded_events(folder)
    assert cut and 0 < len(events) < whole
    assert sum(len(e.to_json()) for e in events) <= size // 2
    notes = [text for stream, text in session.logs if "cut after its first" in text]
    assert len(notes) == 1 and f"{size // 2 / 1024 ** 2:.4g} MiB" in notes[0]
    assert session.status == "incomplete"  # its run_finished is past the cut


def test_sweeps_screen_answers_keys_while_a_slow_sweep_is_read(tiny_mfeat: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    fake_sweep(tmp_path / "runs" / "tiny_mfeat" / "sweep-20261128-100000", tiny_mfeat)
    release = slowed(monkeypatch, SweepStatus, "refresh")
    app = app_for(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)
            await pilot.press("4")
            assert isinstance(app.screen, SweepScreen) and reading(app, "sweep-read")
            grid = app.screen.query_one(SweepGrid)
            title = str(grid.border_title)
            t0 = time.monotonic()
            await pilot.press("1")
            answered = time.monotonic() - t0
            assert isinstance(app.screen, RecipesScreen)
            assert answered < HOLD_S and reading(app, "sweep-read"), f"the key waited {answered:.2f} s"
            assert title == "reading sweep-20261128-100000…"
            release.set()
            await pilot.press("4")
            await reads_done(pilot)
            assert grid.row_count == 4 and grid.border_title.startswith("tiny_mfeat: 4 runs")
    asyncio.run(scenario())


def test_recipes_list_is_read_in_a_worker(tmp_path: Path, monkeypatch) -> None:
    release = slowed(monkeypatch, catalog, "read_recipe")
    app = app_for(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            listing = app.screen.query_one("#recipe-list", OptionList)
            assert str(listing.border_title) == f"{RECIPES} (reading…)" and listing.option_count == 0
            release.set()
            await reads_done(pilot)
            assert listing.option_count == len(list(RECIPES.glob("*.toml"))) > 0
            assert str(listing.border_title) == str(RECIPES)
    asyncio.run(scenario())


def test_sweeps_screen_looks_for_sweep_folders_in_a_worker(tiny_mfeat: Path, tmp_path: Path,
                                                           monkeypatch) -> None:
    from lfm_tui.screens import sweeps as screen

    fake_sweep(tmp_path / "runs" / "tiny_mfeat" / "sweep-20261128-100000", tiny_mfeat)
    release = slowed(monkeypatch, screen, "find_sweeps")
    app = app_for(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)
            await pilot.press("4")
            table = app.screen.query_one("#sweeps-list", DataTable)
            assert reading(app, "sweeps-read") and table.border_title == "sweeps (reading…)"
            t0 = time.monotonic()
            await pilot.press("1")
            answered = time.monotonic() - t0
            assert isinstance(app.screen, RecipesScreen)
            assert answered < HOLD_S and reading(app, "sweeps-read"), f"the key waited {answered:.2f} s"
            release.set()
            await pilot.press("4")
            await reads_done(pilot)
            await reads_done(pilot)  # the sweep found, then its runs read
            assert table.border_title == "sweeps (1)" and app.screen.query_one(SweepGrid).row_count == 4
    asyncio.run(scenario())


def test_a_read_that_raises_is_said_and_the_dashboard_goes_on(tmp_path: Path, monkeypatch) -> None:
    from lfm_tui.screens import history as screen

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(screen, "scan", broken)
    app = app_for(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await reads_done(pilot)
            failed = "✗ reading failed: RuntimeError: disk on fire"  # under the table, not a toast over it
            await until(pilot, lambda: app.screen.notice == failed, what="the failure said")
            assert list(app._notifications) == []
            await pilot.press("1")
            assert isinstance(app.screen, RecipesScreen) and app.is_running
    asyncio.run(scenario())
