"""SVG snapshots of the dashboard (pytest-textual-snapshot): the recipe browser, a live run, a
finished run and a failed run, with the clock frozen and no cursor blink.
`python -m pytest tests/test_tui_snapshots.py --snapshot-update` rewrites them after a deliberate
change; look at the report before committing new ones."""
from __future__ import annotations

import pytest

from engine.contract.events import read_events
from lfm_tui.app import make_app
from lfm_tui.session import RunSession
from tests.tui_helpers import FIXED_NOW, FIXTURE, ROOT, fake, reads_done, until

RECIPES = "tests/fixtures/recipes"   # relative: the snapshots must not hold this checkout's path
RUNS = "tests/fixtures/runs"


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)


def app(command=None):
    return make_app(RECIPES, RUNS, command=command, clock=lambda: FIXED_NOW, cursor_blink=False)


def live_session(upto_step: int) -> RunSession:
    """A run as the dashboard shows it mid-way: the recorded events up to the given step,
    not exited, 83 seconds in."""
    s = RunSession(label="mfeat", args=["recipes/mfeat.toml"], clock=lambda: FIXED_NOW)
    s.started = FIXED_NOW - 83
    for ev in read_events(str(FIXTURE)):
        if ev.type == "step" and ev["global_step"] > upto_step:
            break
        s.feed(ev)
    return s


def test_recipe_browser(snap_compare) -> None:
    async def typed(pilot):
        await pilot.press("down", "o", *"train.epochs=0")
    assert snap_compare(app(), run_before=typed, terminal_size=(120, 40))


def test_recipe_browser_small_terminal(snap_compare) -> None:
    async def typed(pilot):
        await pilot.press("down", "o", *"train.epochs=7")
    assert snap_compare(app(), run_before=typed, terminal_size=(80, 24))


def test_finished_run_small_terminal(snap_compare) -> None:
    async def show(pilot):
        pilot.app.open_recorded(f"{RUNS}/mfeat/20261127-092227-0")
        await reads_done(pilot)
        await pilot.pause()
    assert snap_compare(app(), run_before=show, terminal_size=(80, 24))


def test_live_run(snap_compare) -> None:
    async def show(pilot):
        pilot.app.show_session(live_session(60))
        await pilot.pause()
    assert snap_compare(app(), run_before=show, terminal_size=(120, 40))


def test_live_run_small_terminal(snap_compare) -> None:
    async def show(pilot):
        pilot.app.show_session(live_session(60))
        await pilot.pause()
    assert snap_compare(app(), run_before=show, terminal_size=(80, 24))


def test_finished_run(snap_compare) -> None:
    async def show(pilot):
        pilot.app.open_recorded(f"{RUNS}/mfeat/20261127-092227-0")
        await reads_done(pilot)
        await pilot.pause()
    assert snap_compare(app(), run_before=show, terminal_size=(120, 40))


def test_failed_run(snap_compare) -> None:
    async def crash(pilot):
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "FailureDialog")
        await pilot.pause()
    assert snap_compare(app(fake("crash", events=None)), run_before=crash, terminal_size=(120, 40))


def test_history(snap_compare) -> None:
    async def show(pilot):
        await pilot.press("3")
        await reads_done(pilot)
    assert snap_compare(app(), run_before=show, terminal_size=(120, 40))


def test_compare(snap_compare, tmp_path) -> None:
    from tests.test_tui_history import run_folder

    a = run_folder(tmp_path / "runs", "20261127-092227-0", "heuristic")
    b = run_folder(tmp_path / "runs", "20261128-100000-0", "constant", acc_shift=-3.0)

    async def show(pilot):
        pilot.app.compare([b, a])
        await reads_done(pilot)
        await pilot.pause()
    assert snap_compare(app(), run_before=show, terminal_size=(120, 40))


def test_history_small_terminal(snap_compare) -> None:
    async def show(pilot):
        await pilot.press("3")
        await reads_done(pilot)
    assert snap_compare(app(), run_before=show, terminal_size=(80, 24))


def test_compare_small_terminal(snap_compare, tmp_path) -> None:
    from tests.test_tui_history import run_folder

    a = run_folder(tmp_path / "runs", "20261127-092227-0", "heuristic")
    b = run_folder(tmp_path / "runs", "20261128-100000-0", "constant", acc_shift=-3.0)

    async def show(pilot):
        pilot.app.compare([b, a])
        await reads_done(pilot)
        await pilot.pause()
    assert snap_compare(app(), run_before=show, terminal_size=(80, 24))


def sweep_app(tmp_path, monkeypatch):
    """The app over a 2 x 2 sweep under `runs` (a relative folder: the snapshots hold no path of
    this machine), its run folders last written 10 s, 30 min and 2 h before the frozen clock."""
    import os
    from pathlib import Path

    from test_sweep_exec import fake_sweep

    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "tiny_mfeat.toml"
    recipe.write_text((ROOT / RECIPES / "mfeat.toml").read_text().replace("epochs = 30", "epochs = 4"))
    runs = fake_sweep(Path("runs/tiny_mfeat/sweep-20261128-100000"), recipe)
    for name, age in (("ok", 1800), ("running", 10), ("stalled", 7200)):
        os.utime(runs[name] / "events.jsonl", (FIXED_NOW - age, FIXED_NOW - age))
    return make_app(ROOT / RECIPES, "runs", clock=lambda: FIXED_NOW, cursor_blink=False)


async def sweep_shown(pilot):
    await pilot.press("4")
    await reads_done(pilot)
    await until(pilot, lambda: pilot.app.screen.query_one("SweepGrid").row_count == 4, what="the sweep's runs")
    await pilot.pause()


def test_sweeps(snap_compare, tmp_path, monkeypatch) -> None:
    assert snap_compare(sweep_app(tmp_path, monkeypatch), run_before=sweep_shown, terminal_size=(120, 40))


def test_sweeps_small_terminal(snap_compare, tmp_path, monkeypatch) -> None:
    assert snap_compare(sweep_app(tmp_path, monkeypatch), run_before=sweep_shown, terminal_size=(80, 24))
