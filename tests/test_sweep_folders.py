"""Which folder holds which run: a grid point's folder is named by a hash of its values (two grid
points never share one, however long the values), a run folder is skipped or resumed only where
it holds the planned recipe, sweeps and seed series started in the same second get folders of
their own, and a run is known by its run id, so that `lfm compare` counts a copied run folder
once."""
from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from engine.contract import layout
from engine.contract import recipe as recipes
from lfm_tui import compare, sweep
from lfm_tui import plan as plans
from lfm_tui.cli import app
from lfm_tui.sweep_status import SweepStatus

from conftest import train_in_process

# six grid keys before optim.lr: the values text passes 200 characters before optim.lr's value
LONG_GRID = [f"model.encoders.{m}.dropout=0.1" for m in ("pix", "mor", "fac", "fou", "kar", "zer")] + [
    "alpha.strategy=heuristic", "optim.lr=0.0001,0.1"]


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300), out


# ---------------------------------------------------------------------------- grid point folders

def test_folder_names_are_readable_short_and_differ_where_the_values_do() -> None:
    values = dict(kv.split("=") for kv in LONG_GRID[:-1])
    low, high = plans.folder_name({**values, "optim.lr": "0.0001"}), plans.folder_name({**values, "optim.lr": "0.1"})
    assert low != high
    assert low.startswith("model.encoders.pix.dropout=0.1,model.encoders.mor.dropout=0.1,")
    assert len(low) == plans.PREFIX_CHARS + 1 + plans.HASH_CHARS
    assert re.fullmatch(r"method\.name=lfm-[0-9a-f]{10}", plans.folder_name({"method.name": "lfm"}))
    # values that read alike once made safe for a file name still differ
    assert plans.folder_name({"data.root": "a/b"}) != plans.folder_name({"data.root": "a_b"})
    assert plans.folder_name({}) == ""   # no grid: seed folders in the sweep folder itself


def test_a_long_grid_runs_every_point_in_its_own_folder(tiny_mfeat: Path, tmp_path: Path) -> None:
    """The grid whose folder names were cut at 200 characters: both learning rates run, each
    into its own folder, and the status and the table show each run's own result."""
    sw = tmp_path / "sw"
    con, out = console()
    code = sweep.start(sw, tiny_mfeat, ["train.epochs=1", "data.batch_size=256"], LONG_GRID, "0", [], False, con)
    assert code == 0, out.getvalue()[-3000:]
    assert "finished, skipped" not in out.getvalue()
    runs = sorted(layout.runs_below(sw))
    assert len(runs) == 2 and len({r.parent for r in runs}) == 2
    acc = {recipes.load(r / "recipe.toml").optim.lr: json.loads((r / "summary.json").read_text())["test"]["acc"]
           for r in runs}   # learning rate -> the test ACC its own run reached
    assert sorted(acc) == [0.0001, 0.1] and acc[0.0001] != acc[0.1]
    assert len({layout.read_run_id(r) for r in runs}) == 2
    rows = SweepStatus(sw).refresh()
    assert {float(r.point.values["optim.lr"]): (r.status, r.progress.test_acc) for r in rows} == {
        lr: ("ok", a) for lr, a in acc.items()}
    table = {float(r.config["optim.lr"]): (r.seeds, r.stat("acc")[0]) for r in compare.compare([sw])[0]}
    assert table == {lr: ([0], a) for lr, a in acc.items()}

    # resumed: the engine's recipe.toml is the planned one, so both are skipped, none is run again
    before = {r: (r / "events.jsonl").read_text() for r in runs}
    con, out = console()
    assert sweep.run(sw, False, con) == 0, out.getvalue()
    assert out.getvalue().count("finished, skipped") == 2
    assert {r: (r / "events.jsonl").read_text() for r in runs} == before


def fake_finished(run: Path, recipe: Path, overrides: list[str]) -> Path:
    """A finished run folder holding the resolved recipe of `recipe` with `overrides`."""
    run.mkdir(parents=True)
    (run / "recipe.toml").write_text(recipes.dumps(recipes.load(recipe, overrides)))
    (run / "events.jsonl").write_text("")
    (run / "summary.json").write_text(json.dumps({"status": "ok", "test": {"acc": 50.0}}))
    return run


def two_point_sweep(sw: Path, recipe: Path) -> dict[str, Path]:
    sweep.create(sw, recipe, [], [("method.name", ["concat", "lfm"])], [0], ["lfm", "sweep"])
    return {m: sw / plans.folder_name({"method.name": m}) / "seed-0" for m in ("concat", "lfm")}


def test_a_run_folder_holding_another_configuration_is_never_skipped(tiny_mfeat: Path, tmp_path: Path) -> None:
    sw = tmp_path / "sw"
    runs = two_point_sweep(sw, tiny_mfeat)
    name = ["name=tiny_mfeat", "train.seed=0"]
    fake_finished(runs["concat"], tiny_mfeat, [*name, "method.name=concat"])
    fake_finished(runs["lfm"], tiny_mfeat, [*name, "method.name=concat"])   # concat's run in lfm's folder
    con, out = console()
    res = CliRunner().invoke(app, ["sweep", "--resume", str(sw)])
    assert res.exit_code == 2, res.output
    assert f"{runs['lfm']}: holds a run of another configuration than method.name=lfm seed 0" in res.output
    assert "method.name: concat there, lfm planned" in res.output and f"lfm sweep --resume {sw}" in res.output
    assert str(runs["concat"]) + ":" not in res.output and "skipped" not in res.output
    assert "Traceback" not in res.output and not (sw / "summary.json").exists()

    # a recipe.toml that cannot be read (nested too deep) is not known to be the run: refused too
    (runs["lfm"] / "recipe.toml").write_text("a = " + "[" * 50000 + "]" * 50000 + "\n")
    res = CliRunner().invoke(app, ["sweep", "--resume", str(sw)])
    assert res.exit_code == 2 and f"{runs['lfm']}/recipe.toml: unreadable" in res.output, res.output
    assert "Traceback" not in res.output

    # with lfm's own recipe there, both are skipped (train.threads, how a run was executed, aside)
    shutil.rmtree(runs["lfm"])
    fake_finished(runs["lfm"], tiny_mfeat, [*name, "method.name=lfm", "train.threads=2"])
    assert sweep.run(sw, False, con) == 0, out.getvalue()
    assert out.getvalue().count("finished, skipped") == 2 and (sw / "summary.json").is_file()


def legacy_sweep(sw: Path, recipe: Path, grid: list[tuple[str, list[str]]]) -> None:
    """A sweep folder as an older version wrote it: its plan does not say how folders are named."""
    sweep.create(sw, recipe, [], grid, [0], ["lfm", "sweep"])
    spec = json.loads((sw / "sweep.json").read_text())
    del spec["point_folders"]
    (sw / "sweep.json").write_text(json.dumps(spec))


def test_an_older_sweep_keeps_its_folders_and_one_whose_points_share_a_folder_is_refused(
        tiny_mfeat: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    legacy_sweep(old, tiny_mfeat, [("method.name", ["concat", "lfm"])])
    done = fake_finished(old / "method.name=concat" / "seed-0", tiny_mfeat,
                         ["name=tiny_mfeat", "train.seed=0", "method.name=concat"])
    rows = SweepStatus(old).refresh()
    # the status reads the older folders (the finished run from its summary.json; the other: queued)
    assert [(r.run_dir, r.status) for r in rows] == [(done, "ok"), (old / "method.name=lfm" / "seed-0", "queued")]
    (_, planned) = plans.load(old)
    assert [p.folder for p in planned] == ["method.name=concat", "method.name=lfm"]

    cut = tmp_path / "cut"
    grid = [tuple(kv.split("=")) for kv in LONG_GRID]
    legacy_sweep(cut, tiny_mfeat, [(k, v.split(",")) for k, v in grid])
    for args in (["sweep", "--resume", str(cut)], ["sweep", "--status", str(cut)]):
        res = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
        assert res.exit_code == 2, res.output
        assert "optim.lr=0.0001' and " in res.output and "optim.lr=0.1' share the folder" in res.output
        assert "cut at 200 characters" in res.output and "Traceback" not in res.output
    assert not [p for p in cut.iterdir() if p.is_dir()]   # nothing ran


# ---------------------------------------------------------------------------- same-second starts

@pytest.fixture
def frozen_clock(monkeypatch) -> str:
    """Every `lfm` command of the test starts in the same second."""
    import time

    real = time.strftime
    stamp = "20261206-101500"
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: stamp if fmt == "%Y%m%d-%H%M%S" else real(fmt, *a))
    return stamp


@pytest.mark.slow  # two engine processes; the fast tier names folders in the test below and runs a sweep above
def test_sweeps_and_seed_series_started_in_the_same_second_get_their_own_folders(
        tiny_mfeat: Path, tmp_path: Path, frozen_clock: str) -> None:
    runs = tmp_path / "runs"
    base = runs / "tiny_mfeat"
    for prefix in ("seeds", "sweep"):   # another command's folder, started this second
        (base / f"{prefix}-{frozen_clock}").mkdir(parents=True)
        (base / f"{prefix}-{frozen_clock}" / "sweep.json").write_text("{}")
    seeds = CliRunner().invoke(app, ["run", str(tiny_mfeat), "train.epochs=1", "data.batch_size=256", "method.name=sum",
                                     "--seeds", "0",
                                     "--runs-dir", str(runs)])
    assert seeds.exit_code == 0, seeds.output
    mine = base / f"seeds-{frozen_clock}-1"
    assert json.loads((mine / "seed-0" / "summary.json").read_text())["status"] == "ok"
    grid = CliRunner().invoke(app, ["sweep", str(tiny_mfeat), "train.epochs=1", "data.batch_size=256", "--grid",
                                    "method.name=sum",
                                    "--runs-dir", str(runs)])
    assert grid.exit_code == 0, grid.output
    point = base / f"sweep-{frozen_clock}-1" / plans.folder_name({"method.name": "sum"}) / "seed-0"
    assert json.loads((point / "summary.json").read_text())["status"] == "ok"
    for prefix in ("seeds", "sweep"):   # the other command's folders are untouched
        assert [p.name for p in (base / f"{prefix}-{frozen_clock}").iterdir()] == ["sweep.json"]
    # a plan that does not validate leaves no folder behind
    bad = CliRunner().invoke(app, ["sweep", str(tiny_mfeat), "--grid", "optim.lr=-1", "--runs-dir", str(runs)])
    assert bad.exit_code == 2 and not (base / f"sweep-{frozen_clock}-2").exists()


def test_a_new_folder_beside_a_taken_one_takes_the_next_suffix(tmp_path: Path) -> None:
    made = [layout.new_folder(tmp_path / "a" / "sweep-x") for _ in range(3)]
    assert [p.name for p in made] == ["sweep-x", "sweep-x-1", "sweep-x-2"] and all(p.is_dir() for p in made)


# ---------------------------------------------------------------------------- run ids

def test_the_engine_gives_every_new_run_an_id_and_a_resumed_run_keeps_it(tiny_mfeat: Path, tmp_path: Path) -> None:
    from engine.run import check_run_dir

    r = recipes.load(tiny_mfeat, ["data.batch_size=256"])
    run = tmp_path / "run"
    assert train_in_process(run, r, stop_after=1)[0] == 130   # stopped with a checkpoint after epoch 1
    run_id = layout.read_run_id(run)
    assert run_id is not None and re.fullmatch(r"[0-9a-f]{32}", run_id)
    code, summary = train_in_process(run, r, resume_state=check_run_dir(run)[1])
    assert (code, summary["status"]) == (0, "ok")
    assert layout.read_run_id(run) == run_id
    other, lock = layout.create_run_folder(None, tmp_path / "runs", "x", 0, {})
    lock.release()
    assert layout.read_run_id(other) not in (None, run_id)


def test_a_damaged_run_id_reads_as_none(tmp_path: Path) -> None:
    for text in ("", "not an id", "A" * 32, "0" * 31, "0" * 64):
        (tmp_path / "run-id").write_text(text)
        assert layout.read_run_id(tmp_path) is None, text
    (tmp_path / "run-id").write_text("0123456789abcdef" * 2 + "\n")
    assert layout.read_run_id(tmp_path) == "0123456789abcdef" * 2


def fake_run(folder: Path, seed: int, acc: float, run_id: str | None) -> Path:
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text(f'name = "toy"\n[data]\nname = "mfeat"\nmodalities = ["pix", "mor"]\n'
                                        f'[method]\nname = "concat"\n[train]\nseed = {seed}\n')
    (folder / "events.jsonl").write_text("")
    (folder / "summary.json").write_text(json.dumps({"status": "ok", "test": {"acc": acc}}))
    if run_id:
        (folder / "run-id").write_text(run_id + "\n")
    return folder


def test_compare_counts_a_copied_run_folder_once_and_says_so(tmp_path: Path) -> None:
    a = tmp_path / "a"
    fake_run(a / "seed-0", 0, 90.0, "a0" * 16)
    fake_run(a / "seed-1", 1, 94.0, "a1" * 16)
    copy = tmp_path / "copy_of_a"
    shutil.copytree(a, copy)
    (row,) = compare.compare([a, copy])[0]
    assert (row.seeds, row.stat("acc")) == ([0, 1], (92.0, pytest.approx(2 ** 0.5 * 2)))
    res = CliRunner().invoke(app, ["compare", str(a), str(copy)], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    assert f"{a / 'seed-0'}, {copy / 'seed-0'}: the same run (run id {'a0' * 16}), counted once" in res.output
    assert f"{a / 'seed-1'}, {copy / 'seed-1'}: the same run" in res.output
    assert re.search(r"concat\s*│\s*2\s*│\s*92\.00 ± 2\.83", res.output), res.output

    # runs made before run ids existed are told apart by their folders
    old = tmp_path / "old"
    fake_run(old / "seed-0", 0, 80.0, None)
    fake_run(old / "seed-0b", 0, 84.0, None)
    (row,) = compare.compare([old, old / "seed-0"])[0]
    assert (row.seeds, row.stat("acc")[0]) == ([0, 0], 82.0)
    assert compare.same_run_notes(compare.compare([old])[1]) == []


def test_a_finished_copy_stands_for_a_run_copied_before_it_finished(tmp_path: Path) -> None:
    early = fake_run(tmp_path / "early", 0, 0.0, "b" * 32)
    (early / "summary.json").write_text(json.dumps({"status": "cancelled", "test": None}))
    fake_run(tmp_path / "later", 0, 91.0, "b" * 32)
    rows, runs = compare.compare([tmp_path / "early", tmp_path / "later"])
    assert [(r.path.name, r.status, [c.name for c in r.copies]) for r in runs] == [("later", "ok", ["early"])]
    assert rows[0].stat("acc")[0] == 91.0
