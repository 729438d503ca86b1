"""The run index finds every run under the runs folder, the runs of sweeps and seed series under
their folder, tells runs made alike apart (time, seed, folder), says which run a live process
executes, and filters; `lfm runs` prints the same list; tags and notes round-trip through `lfm
tag` / `lfm note`, `lfm runs`, the history screen, `lfm compare` and TensorBoard's text."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from engine.contract import annotations
from engine.contract import recipe as recipes
from engine.contract.folder_lock import FolderLock
from lfm_tui.app import make_app
from lfm_tui.run_index import Group, filtered, matches, scan
from lfm_tui.screens.compare import CompareScreen
from lfm_tui.screens.history import HistoryScreen
from lfm_tui.screens.history_rows import AnnotateDialog
from tests.tui_helpers import FIXTURE, ROOT, fake, reads_done, until

LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]
RECIPES = ROOT / "tests" / "fixtures" / "recipes"
T0 = 1_795_771_000.0


def made_run(folder: Path, method: str = "lfm", seed: int = 0, acc_shift: float = 0.0, start: float = T0,
             finished: bool = True) -> Path:
    """The recorded mfeat run (4 epochs) as run `folder`, of `method` and `seed`, started at `start`."""
    folder.mkdir(parents=True)
    lines = []
    for n, line in enumerate(FIXTURE.read_text().splitlines()):
        ev = json.loads(line)
        ev["time"] = start + n
        if ev["type"] == "run_started":
            ev["run_dir"] = str(folder)
            ev["recipe"].setdefault("method", {})["name"] = method
            ev["recipe"].setdefault("train", {})["seed"] = seed
        if ev["type"] == "run_finished":
            ev["best"]["acc"] += acc_shift
            ev["test"]["acc"] += acc_shift
            if not finished:
                break
        lines.append(json.dumps(ev))
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    recipe = json.loads(lines[0])["recipe"]
    (folder / "recipe.toml").write_text(recipes.dumps(recipes.from_dict(recipe, "recipe")))
    if finished:
        last = json.loads(lines[-1])
        (folder / "summary.json").write_text(json.dumps(
            {"status": "ok", "recipe_name": "mfeat", "method": method, "best": last["best"], "test": last["test"],
             "epochs_done": 4}))
    return folder


def runs_folder(tmp_path: Path) -> dict[str, Path]:
    """A single run, a 2 x 2 sweep (concat and lfm, seeds 0 and 1) and a seed series of two."""
    runs = tmp_path / "runs"
    out = {"single": made_run(runs / "mfeat" / "20261127-092227-0", start=T0)}
    sweep = runs / "mfeat" / "sweep-20261128-100000"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    for i, method in enumerate(("concat", "lfm")):
        for seed in (0, 1):
            out[f"{method}-{seed}"] = made_run(sweep / f"method.name={method}-0a1b2c3d4e" / f"seed-{seed}", method,
                                               seed, acc_shift=-i - seed, start=T0 + 86400 + 100 * (2 * i + seed))
    series = runs / "mfeat" / "seeds-20261129-100000"
    series.mkdir(parents=True)
    (series / "sweep.json").write_text("{}")
    for seed in (0, 1):
        out[f"series-{seed}"] = made_run(series / f"seed-{seed}", "lfm", seed, start=T0 + 2 * 86400 + seed)
    return out


def lfm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([*LFM, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**env, "PYTHONPATH": str(ROOT)})


def test_the_index_finds_a_sweeps_runs_and_groups_them(tmp_path: Path) -> None:
    made = runs_folder(tmp_path)
    index = scan(tmp_path / "runs", RECIPES)
    assert index.found == 7 and len(index.runs) == 7 and index.left_out == 0
    items = index.items()
    assert [type(i).__name__ for i in items] == ["Group", "Group", "RunInfo"]  # newest first
    series, sweep, single = items
    assert (series.kind, series.name) == ("seeds", "mfeat/seeds-20261129-100000")
    assert (sweep.kind, sweep.name) == ("sweep", "mfeat/sweep-20261128-100000")
    assert {r.path for r in sweep.runs} == {made[k] for k in ("concat-0", "concat-1", "lfm-0", "lfm-1")}
    assert single.path == made["single"] and single.group == ""
    # runs made alike are told apart: their time (from their first event), seed and folder
    by_path = {r.path: r for r in index.runs}
    lfm0, lfm1 = by_path[made["lfm-0"]], by_path[made["lfm-1"]]
    first = datetime.fromtimestamp(T0 + 86400 + 200).strftime("%Y-%m-%d %H:%M:%S")
    assert (lfm0.seed, lfm1.seed) == (0, 1) and lfm0.date == first  # its first event's time
    assert [by_path[made[f"series-{s}"]].seed for s in (0, 1)] == [0, 1]
    assert {r.recipe for r in index.runs} == {"mfeat"} and {r.status for r in index.runs} == {"ok"}
    assert sorted(r.method for r in sweep.runs) == ["concat", "concat", "lfm", "lfm"]
    assert "train.seed" not in lfm1.overrides  # the seed has a column of its own


def test_a_run_whose_folder_a_live_process_holds_is_running(tmp_path: Path) -> None:
    folder = made_run(tmp_path / "runs" / "mfeat" / "20261127-092227-0", finished=False)
    assert [r.status for r in scan(tmp_path / "runs").runs] == ["incomplete"]
    lock = FolderLock(folder).acquire()
    try:
        assert [r.status for r in scan(tmp_path / "runs").runs] == ["running"]
    finally:
        lock.release()
    assert [r.status for r in scan(tmp_path / "runs").runs] == ["incomplete"]
    # a holder that died without letting go (its note left behind) does not make it run
    (folder / ".lock.owner").write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename}))
    assert [r.status for r in scan(tmp_path / "runs").runs] == ["incomplete"]


def test_the_filter_finds_runs_by_text_key_value_tag_and_status(tmp_path: Path) -> None:
    made = runs_folder(tmp_path)
    annotations.tag(made["lfm-1"], add=["paper", "best"])
    annotations.set_note(made["concat-0"], "Baseline for the table")
    index = scan(tmp_path / "runs", RECIPES)

    def found(query: str) -> set[str]:
        return {k for k, p in made.items() for r in filtered(index, query).runs if r.path == p}

    assert found("concat") == {"concat-0", "concat-1"}
    assert found("method.name=lfm seed=1") == {"lfm-1", "series-1"}
    assert found("seed=0 sweep-20261128") == {"concat-0", "lfm-0"}
    assert found("#paper") == found("tag=best") == found("PAPER") == {"lfm-1"}
    assert found("baseline table") == {"concat-0"}
    assert found("status=ok") == set(made) and found("running") == set()
    assert found("seeds-20261129") == {"series-0", "series-1"}
    assert not matches(index.runs[0], "no-such-thing")
    assert filtered(index, "concat").left_out == 0


def test_lfm_runs_prints_every_run_grouped_and_filters_as_json(tmp_path: Path) -> None:
    made = runs_folder(tmp_path)
    res = lfm("runs", "runs", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "runs in runs (7)"
    assert sum("sweep, 4 runs" in l for l in lines) == 1 and sum("seeds, 2 runs" in l for l in lines) == 1
    for path in made.values():  # every run, each on one line: the table is not wrapped in a file
        assert sum(str(path.relative_to(tmp_path)) in l for l in lines) == 1
    res = lfm("runs", "runs", "--filter", "concat seed=1", "--json", cwd=tmp_path)
    data = json.loads(res.stdout)
    assert data["found"] == 1 and [r["run"] for r in data["runs"]] == [str(made["concat-1"].relative_to(tmp_path))]
    one = data["runs"][0]
    assert (one["group"], one["seed"], one["method"], one["status"]) == ("mfeat/sweep-20261128-100000", 1,
                                                                         "concat", "ok")
    assert one["val_acc"] == pytest.approx(96.333 - 1, abs=1e-3) and one["tags"] == [] and one["note"] == ""
    bad = lfm("runs", "nowhere", cwd=tmp_path)
    assert bad.returncode == 2 and "nowhere: no such folder" in bad.stderr and "Traceback" not in bad.stderr


def test_tags_and_notes_round_trip_through_every_reader(tmp_path: Path) -> None:
    made = runs_folder(tmp_path)
    a, b = made["lfm-0"], made["concat-0"]
    assert lfm("tag", str(a), "paper", "keep", "x", cwd=tmp_path).returncode == 0
    res = lfm("tag", str(a), "x", "--remove", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"{a}: tags paper keep"
    assert lfm("note", str(a), "lr too high?  check", cwd=tmp_path).returncode == 0
    assert annotations.read(a) == annotations.Annotations(["paper", "keep"], "lr too high?  check")
    assert not list(a.glob(".*.tmp"))  # written whole, nothing left beside it
    # lfm runs: shown and filterable
    runs = json.loads(lfm("runs", "runs", "--filter", "#keep", "--json", cwd=tmp_path).stdout)["runs"]
    assert [(r["tags"], r["note"]) for r in runs] == [(["paper", "keep"], "lr too high?  check")]
    # lfm compare: the row's label carries the tags, the note is printed with the table
    res = lfm("compare", str(a), str(made["lfm-1"]), str(b), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert any(l.strip("│ ").startswith("lfm #paper #keep ") for l in res.stdout.splitlines()), res.stdout
    assert f"note on {a}: lr too high? check" in res.stdout
    # bad input: one line, exit 2, nothing written
    for args in (("tag", str(a), "two words"), ("tag", str(tmp_path), "t"), ("note", str(a), "x" * 5000)):
        bad = lfm(*args, cwd=tmp_path)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert annotations.read(a).tags == ["paper", "keep"]
    # never written through a link; a file that is not what it should be reads as nothing
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    (b / annotations.NOTES).symlink_to(target)
    bad = lfm("tag", str(b), "t", cwd=tmp_path)
    assert bad.returncode == 2 and "symbolic link" in bad.stderr and target.read_text() == "{}"
    (b / annotations.NOTES).unlink()
    (b / annotations.NOTES).write_text(json.dumps({"tags": ["ok", "a b", 3, "y" * 99], "note": ["no"]}))
    assert annotations.read(b) == annotations.Annotations(["ok"], "")
    (b / annotations.NOTES).write_text("[" * 100000)
    assert annotations.read(b) == annotations.Annotations()


def test_tensorboard_text_carries_the_tags_and_note_when_the_run_starts(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from engine.contract.events import RunStarted, parse_line
    from engine.review.sinks import TensorBoardSink

    folder = made_run(tmp_path / "runs" / "mfeat" / "20261127-092227-0")
    annotations.tag(folder, add=["paper"])
    annotations.set_note(folder, "the run of figure 2")
    started = parse_line(json.dumps({**json.loads(FIXTURE.read_text().splitlines()[0]), "run_dir": str(folder)}))
    assert isinstance(started, RunStarted)
    sink = TensorBoardSink(tmp_path / "tb", {})
    sink.on_run_started(started)
    sink.writer.close()
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"tensors": 0})
    acc.Reload()
    text = acc.Tensors("notes/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "`paper`" in text and "the run of figure 2" in text


def test_history_groups_filters_sorts_tags_and_follows_a_running_run(tmp_path: Path) -> None:
    made = runs_folder(tmp_path)
    running = made_run(tmp_path / "runs" / "mfeat" / "20261130-100000-0", start=T0 + 3 * 86400, finished=False)
    lock = FolderLock(running).acquire()
    app = make_app(RECIPES, tmp_path / "runs", command=fake("replay"), cursor_blink=False)

    def rows(table) -> list[list[str]]:
        return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]

    async def scenario():
        async with app.run_test(size=(160, 40)) as pilot:
            await reads_done(pilot)
            await pilot.press("3")
            await reads_done(pilot)
            screen = app.screen
            assert isinstance(screen, HistoryScreen)
            table = screen.query_one(DataTable)
            shown = rows(table)
            assert [r[3] for r in shown] == ["running", "ok", "ok", "ok"]  # the run, series, sweep, run
            assert [r[0] for r in shown[1:3]] == ["▸", "▸"] and shown[2][5] == "sweep, 4 runs"
            assert str(table.border_title) == f"runs in {tmp_path / 'runs'} (8)"
            await pilot.press("down", "down", "enter")  # the sweep opened
            shown = rows(table)
            assert len(shown) == 8 and shown[2][0] == "▾"
            assert sorted(r[4] for r in shown[3:7]) == ["0", "0", "1", "1"]
            assert {r[5] for r in shown[3:7]} == {"concat", "lfm"}
            await pilot.press("enter")  # and closed
            assert len(rows(table)) == 4
            # `/`: the filter, as typed
            await pilot.press("slash")
            await pilot.press(*"concat")
            await pilot.pause()
            shown = rows(table)
            assert [r[5] for r in shown] == ["sweep, 2 runs", "concat", "concat"]
            assert "matching 'concat'" in str(table.border_title)
            await pilot.press("escape")
            assert len(rows(table)) == 4 and not screen.query_one("#history-filter", Input).display
            # `s`: sorted by the next column; a heading chooses one, again the other way
            await pilot.press("s")
            assert "by recipe ↓" in str(table.border_title)
            screen.sort("val ACC", False)
            await pilot.pause()
            assert "by val ACC ↑" in str(table.border_title)
            await pilot.press("slash", *"sweep-2026")  # the sweep's runs, worst val ACC first
            await pilot.pause()
            assert [r[8] for r in rows(table)] == ["96.33", "94.33", "95.33", "95.33", "96.33"]
            await pilot.press("escape")
            # `t` on the single run: tags typed into the dialog land in its folder and its row
            screen.sort("date", True)
            await pilot.pause()
            table.move_cursor(row=3)
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, AnnotateDialog), what="the tags dialog")
            await pilot.press(*"paper keep", "enter")
            await until(pilot, lambda: rows(table)[3][-1] == "#paper #keep", what="the tags shown")
            assert annotations.read(made["single"]).tags == ["paper", "keep"]
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, AnnotateDialog), what="the note dialog")
            await pilot.press(*"first try", "enter")
            await until(pilot, lambda: rows(table)[3][-1] == "#paper #keep  first try", what="the note shown")
            assert annotations.read(made["single"]).note == "first try"
            # compared: the labels carry the tags and the note
            await pilot.press("space")
            table.move_cursor(row=1)
            await pilot.press("space", "c")
            await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare screen")
            assert any(label.endswith("  #paper #keep  first try") for label in app.screen.labels), app.screen.labels
            app.pop_screen()
            await pilot.pause()
            # the running run opens followed live, not as a frozen replay
            table.move_cursor(row=0)
            await pilot.press("enter")
            await until(pilot, lambda: app.current is not None and app.current.following, what="a followed run")
            assert app.current.label == "mfeat/20261130-100000-0"
    try:
        asyncio.run(scenario())
    finally:
        lock.release()
