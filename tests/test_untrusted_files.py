"""Every reader of a run folder treats its files as untrusted input (property-based, Hypothesis):
the event parser and the state it feeds, the history, `lfm compare`, `lfm ensemble` and
`lfm sweep --resume` take any bytes without a traceback; a bad folder reads as unreadable, with
why, and the rest works."""
from __future__ import annotations

import io
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.contract.events import EVENT_TYPES, Event, LogLine, ProtocolError, parse_line, read_events
from test_cli_run import ENV, LFM
from tests.tui_helpers import FIXTURE, reads_done, recorded_run

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECORDED = [json.loads(line) for line in FIXTURE.read_text().splitlines()]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c,
                                                                                           max_size=3), max_leaves=12)


@st.composite
def damaged_events(draw) -> dict:
    """A recorded event with fields removed, replaced by any JSON value, or of an unknown type."""
    ev = dict(draw(st.sampled_from(RECORDED)))
    for key in list(ev):
        if key in ("v", "type"):
            continue
        action = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if action == "drop":
            del ev[key]
        elif action == "replace":
            ev[key] = draw(json_values)
    if draw(st.booleans()):
        ev["type"] = draw(st.sampled_from([*EVENT_TYPES, "mystery"]))
    if draw(st.integers(0, 9)) == 0:
        ev["v"] = draw(st.sampled_from([0, 2, -1, 1.5, "1", True]))  # an older, newer or odd version
    return ev


event_files = st.one_of(st.binary(max_size=300),
                        st.lists(damaged_events(), max_size=5).map(lambda evs: "\n".join(map(json.dumps, evs)).encode()))


def feed_everything(items) -> None:
    """What the dashboard and `lfm run` do with a stream: state, session, live view, summary."""
    from rich.console import Console

    from lfm_tui.headless import LiveView, summary
    from lfm_tui.session import RunSession

    console = Console(file=io.StringIO(), width=100)
    view, session = LiveView(console), RunSession(label="x", replay=True)
    for item in items:
        view.handle(item)
        session.feed(item)
    console.print(view)
    summary(console, view.state, 1)
    session.progress(), session.elapsed(), session.resumable(), session.tensorboard_command()


@SETTINGS
@given(st.lists(damaged_events(), max_size=6))
def test_damaged_events_never_take_a_reader_down(evs: list[dict]) -> None:
    items = []
    for ev in evs:
        try:
            items.append(parse_line(json.dumps(ev)))
        except ProtocolError:
            assert isinstance(ev["v"], int) and ev["v"] > 1  # only a newer version is refused
    for item in items:
        assert item is None or isinstance(item, (Event, LogLine))
    feed_everything([i for i in items if i is not None])


@SETTINGS
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_any_bytes_are_lines_of_text_or_events(lines: list[bytes]) -> None:
    items = []
    for raw in lines:
        try:
            item = parse_line(raw.decode("utf-8", errors="replace"))
        except ProtocolError:
            continue
        if item is not None:
            items.append(item)
    feed_everything(items)


def test_a_newer_protocol_and_broken_lines_in_events_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(FIXTURE.read_bytes()[:2000] + b"\n\xff\xfe not utf-8\n" + b'{"v":1,"type":"step","epoch":"one"}\n')
    events = read_events(str(path))
    assert events and all(isinstance(e, Event) for e in events)
    assert all(e.type != "step" or isinstance(e["epoch"], int) for e in events)
    path.write_bytes(path.read_bytes() + b'{"v":9,"type":"step"}\n')
    with pytest.raises(ProtocolError, match="update the client"):
        read_events(str(path))


@SETTINGS
@given(events=event_files, summary=st.one_of(st.binary(max_size=100), json_values.map(json.dumps)))
def test_history_reads_any_run_folder(events: bytes, summary) -> None:
    from lfm_tui.history import read_run
    from lfm_tui.run_index import scan

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "runs" / "a[red]b" / "20261127-092227-0"
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_bytes(events)
        (folder / "summary.json").write_bytes(summary if isinstance(summary, bytes) else summary.encode())
        info = read_run(folder)
        assert isinstance(info.status, str) and isinstance(info.recipe, str)
        assert info.best_acc is None or isinstance(info.best_acc, float)
        assert info.epochs_done is None or isinstance(info.epochs_done, int)
        assert [r.path for r in scan(Path(tmp) / "runs").runs] == [folder]


def good_run(runs: Path, name: str, seed: int, acc: float) -> Path:
    folder = runs / name
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text(f'name = "m"\n[data]\nname = "mfeat"\nmodalities = ["pix", "mor"]\n'
                                        f'[train]\nseed = {seed}\n')
    (folder / "events.jsonl").write_text("")
    (folder / "summary.json").write_text(json.dumps({"status": "ok", "test": {"acc": acc, "map": 1.0, "f1": 1.0}}))
    return folder


@SETTINGS
@given(summary=st.one_of(st.binary(max_size=100), json_values.map(json.dumps)),
       recipe=st.one_of(st.binary(max_size=100), st.text(max_size=100)))
def test_compare_shows_a_bad_run_as_unreadable_and_tables_the_rest(summary, recipe) -> None:
    from lfm_tui import compare, compare_files

    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        good_run(runs, "good-0", 0, 90.0)
        bad = good_run(runs, "bad", 1, 0.0)
        (bad / "summary.json").write_bytes(summary if isinstance(summary, bytes) else summary.encode())
        (bad / "recipe.toml").write_bytes(recipe if isinstance(recipe, bytes) else recipe.encode("utf-8", "replace"))
        rows, found = compare.compare([runs])
        assert len(found) == 2 and all(isinstance(r.status, str) for r in found)
        assert any(r.label == "lfm" and r.stat("acc") for r in rows)
        compare_files.to_markdown(rows), compare_files.to_csv(rows), json.dumps(compare_files.to_json(rows, found))


def test_lfm_compare_lists_an_unreadable_run_and_exits_0(tmp_path: Path) -> None:
    good_run(tmp_path / "runs", "good", 0, 90.0)
    (good_run(tmp_path / "runs", "bad", 1, 0.0) / "summary.json").write_bytes(b"\xff{[")
    res = subprocess.run(LFM + ["compare", str(tmp_path / "runs")], cwd=tmp_path, capture_output=True, text=True,
                         env=ENV, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr and "unreadable" in res.stdout and "90.00" in res.stdout


predictions = st.dictionaries(
    st.sampled_from(["index", "label", "fused", "modalities", "part_a", "other"]),
    hnp.arrays(st.sampled_from([np.int64, np.float32, np.float64, np.bool_, "U3"]),
               hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)), max_size=6)


@SETTINGS
@given(arrays=predictions, raw=st.none() | st.binary(max_size=64))
def test_ensemble_refuses_any_bad_predictions_with_one_message(arrays: dict, raw) -> None:
    from engine.ensemble import ensemble
    from engine.contract.errors import UserError

    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        for d in (a, b):
            d.mkdir()
            if raw is not None:
                (d / "predictions.npz").write_bytes(raw)
            else:
                np.savez(d / "predictions.npz", **arrays)
        try:
            result = ensemble([a, b])
        except UserError as exc:
            assert "predictions.npz" in str(exc)
        else:
            assert 0 <= result["ensemble"]["acc"] <= 100


@SETTINGS
@given(plan=st.one_of(st.binary(max_size=80), json_values.map(json.dumps),
                      st.fixed_dictionaries({"name": json_values, "overrides": json_values, "grid": json_values,
                                             "seeds": json_values}).map(json.dumps)))
def test_a_damaged_sweep_plan_is_bad_input(plan) -> None:
    from engine.contract import recipe as recipes
    from lfm_tui import plan as plans

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "sweep.json").write_bytes(plan if isinstance(plan, bytes) else plan.encode())
        (folder / "base-recipe.toml").write_text('[data]\nname = "mfeat"\nmodalities = ["pix", "mor"]\n')
        try:
            plans.load(folder)
        except (plans.SweepError, recipes.RecipeError):
            pass


def test_lfm_sweep_resume_of_a_damaged_plan_exits_2(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text('{"name": "x", "overrides": [], "grid": [["a"]], "seeds": ["0"]}')
    res = subprocess.run(LFM + ["sweep", "--resume", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         env=ENV, timeout=60)
    assert res.returncode == 2 and "sweep.json" in res.stderr and "Traceback" not in res.stdout + res.stderr


def test_history_screen_survives_bad_run_folders(tmp_path: Path) -> None:
    """One bad folder does not take the history down: each is listed (unreadable ones with why),
    opening one says why, and the good run still opens."""
    import asyncio

    from textual.widgets import DataTable

    from lfm_tui.app import make_app
    from lfm_tui.screens.history import HistoryScreen
    from lfm_tui.screens.run import RunScreen
    from tests.tui_helpers import ROOT, fake, row_by_column

    runs = tmp_path / "runs"
    good = recorded_run(runs, "20261127-092227-0")
    first = FIXTURE.read_text().splitlines()[0]
    bad = {"20261127-000001-0": b"\xff\xfe\x00 not utf-8\n" + first.encode() + b"\n",
           "20261127-000002-0": b'{"v":1,"type":"run_started","seq":0,"time":0}\n',
           "20261127-000003-0": first.replace('"epochs":4', '"epochs":"four"').encode() + b"\n",
           "20261127-000004-0": first.encode() + b'\n{"v":7,"type":"step","seq":1,"time":0}\n'}
    for stamp, data in bad.items():
        folder = runs / "mfeat" / stamp
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_bytes(data)
    named = recorded_run(runs, "20261127-000005-0")
    (named / "summary.json").write_text(json.dumps({"status": "ok", "recipe_name": "a[/]b", "best": {"acc": "x"},
                                                    "epochs_done": [1]}))
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", runs, command=fake("replay"), cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("3")
            await reads_done(pilot)
            assert isinstance(app.screen, HistoryScreen)
            table = app.screen.query_one(DataTable)
            rows = {app.screen.runs[i].run_id: row_by_column(table, i) for i in range(table.row_count)}
            assert len(rows) == 6
            assert rows["mfeat/20261127-000004-0"]["status"].startswith("unreadable: the engine speaks event protocol 7")
            assert rows["mfeat/20261127-000005-0"]["recipe"] == "a[/]b"
            for _ in range(table.row_count):  # open every run, the bad ones included
                await pilot.press("enter")
                await reads_done(pilot)
                if isinstance(app.screen, RunScreen):
                    await pilot.press("3")
                    await reads_done(pilot)
                await pilot.press("down")
            await pilot.pause()
            assert app.is_running
            app.open_recorded(good)
            await reads_done(pilot)
            assert isinstance(app.screen, RunScreen) and app.current.status == "ok"
    asyncio.run(scenario())
