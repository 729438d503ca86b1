"""History and compare tell runs apart: method, alpha strategy, the overrides that differ from
the recipe (or from the other runs), best validation and test ACC, how long a run took; the
compare screen labels runs as `lfm compare` does and shows their numbers as a table."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from textual.widgets import DataTable, Static

from lfm_tui.app import make_app
from lfm_tui.history import run_seconds
from lfm_tui.run_index import scan
from lfm_tui.screens.compare import CompareScreen
from lfm_tui.screens.history import HistoryScreen
from lfm_tui.widgets.compare_chart import CompareChart
from tests.tui_helpers import FIXTURE, ROOT, fake, reads_done, row_by_column, until

RECIPES = ROOT / "tests" / "fixtures" / "recipes"  # mfeat.toml: heuristic alpha, 30 epochs


def run_folder(runs: Path, stamp: str, strategy: str, acc_shift: float = 0.0, lr: float | None = None) -> Path:
    """The recorded 4-epoch mfeat run (train.log_every=6) with another alpha strategy (and
    learning rate), its fused ACCs moved by `acc_shift`, an event every 2 seconds, and the
    summary.json the engine writes."""
    folder = runs / "mfeat" / stamp
    folder.mkdir(parents=True)
    t0, lines, last = 1_795_771_000.0, [], None
    for n, line in enumerate(FIXTURE.read_text().splitlines()):
        ev = json.loads(line)
        ev["time"] = t0 + 2 * n
        if ev["type"] == "run_started":
            ev["run_dir"] = str(folder)
            ev["recipe"]["alpha"]["strategy"] = strategy
            if lr is not None:
                ev["recipe"]["optim"]["lr"] = lr
        if ev["type"] == "step" and strategy == "constant":
            ev["alpha"] = 0.5
        if ev["type"] == "eval":
            ev["fused"]["acc"] += acc_shift
        if ev["type"] == "run_finished":
            ev["best"]["acc"] += acc_shift
            ev["test"]["acc"] += acc_shift
        lines.append(json.dumps(ev))
        last = ev
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "summary.json").write_text(json.dumps(
        {"status": "ok", "recipe_name": "mfeat", "method": "lfm", "alpha_strategy": strategy,
         "best": last["best"], "test": last["test"], "epochs_done": 4}))
    return folder


def app_for(tmp_path: Path):
    return make_app(RECIPES, tmp_path / "runs", command=fake("replay"), cursor_blink=False)


def two_runs(tmp_path: Path):
    """Two runs of mfeat that differ in alpha strategy (the second 3 points worse), and the app."""
    runs = tmp_path / "runs"
    a = run_folder(runs, "20261127-092227-0", "heuristic")
    b = run_folder(runs, "20261128-100000-0", "constant", acc_shift=-3.0)
    return a, b, app_for(tmp_path)


def test_history_tells_apart_runs_that_differ_in_alpha_strategy(tmp_path: Path) -> None:
    a, b, app = two_runs(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("3")
            await reads_done(pilot)
            assert isinstance(app.screen, HistoryScreen)
            table = app.screen.query_one(DataTable)
            # 120 columns: the tags column (empty) left out and the overrides shortened, so that
            # the numbers and the epochs show whole; the hint line shows the overrides whole
            heads = [str(c.label) for c in table.ordered_columns]
            assert heads == [" ", "date", "recipe", "status", "seed", "method", "alpha", "overrides", "val ACC",
                             "test ACC", "time", "epochs"]
            rows = [row_by_column(table, i) for i in range(table.row_count)]
            assert [r["date"] for r in rows] == ["2026-11-28 10:00:00", "2026-11-27 09:22:27"]
            assert [r["seed"] for r in rows] == ["0", "0"]
            assert [[r["method"], r["alpha"], r["overrides"]] for r in rows] == [
                ["lfm", "constant", "epochs=4 log_ev…"], ["lfm", "heuristic", "epochs=4 log_ev…"]]
            assert rows[0] != rows[1]
            for row, folder in zip(rows, (b, a)):
                summary = json.loads((folder / "summary.json").read_text())
                assert row["val ACC"] == f"{summary['best']['acc']:.2f}"
                assert row["test ACC"] == f"{summary['test']['acc']:.2f}"
            assert [[r["val ACC"], r["test ACC"]] for r in rows] == [["93.33", "95.00"], ["96.33", "98.00"]]
            assert [[r["time"], r["epochs"]] for r in rows] == [["1:10", "4"], ["1:10", "4"]]  # 36 events, 2 s apart
            hint = str(app.screen.query_one("#history-hint", Static).render())
            assert "mfeat/20261128-100000-0  train.epochs=4 train.log_every=6" in hint
            assert f"lfm tensorboard {b}" in hint
    asyncio.run(scenario())


def test_overrides_are_the_keys_that_differ_between_runs_without_their_recipe(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_folder(runs, "20261127-092227-0", "heuristic")
    run_folder(runs, "20261128-100000-0", "constant")
    run_folder(runs, "20261129-100000-0", "heuristic", lr=0.01)
    got = {r.path.name: (r.alpha, r.overrides) for r in scan(runs, tmp_path / "no-recipes").runs}
    assert got == {"20261127-092227-0": ("heuristic", "optim.lr=0.001"),
                   "20261128-100000-0": ("constant", "optim.lr=0.001"),
                   "20261129-100000-0": ("heuristic", "optim.lr=0.01")}
    against_recipe = {r.path.name: r.overrides for r in scan(runs, RECIPES).runs}
    assert against_recipe["20261129-100000-0"] == "optim.lr=0.01 train.epochs=4 train.log_every=6"


def test_overrides_column_names_keys_by_their_last_part_and_fits_its_width() -> None:
    from lfm_tui.screens.history_rows import OVERRIDES_WIDTH, short_overrides

    assert short_overrides("optim.lr=0.01 train.epochs=4") == "lr=0.01 epochs=4"
    assert short_overrides("model.encoders.pix.kind=cnn model.encoders.mor.kind=mlp") == \
        "model.encoders.pix.kind…"[:OVERRIDES_WIDTH]
    assert short_overrides("a.x=1 b.x=2") == "a.x=1 b.x=2" and short_overrides("") == ""


def test_run_time_leaves_out_the_pause_before_a_resume() -> None:
    lines = [json.dumps({"type": t, "time": s}) for t, s in
             (("run_started", 100.0), ("step", 130.0), ("run_finished", 160.0),  # 60 s, then a pause
              ("run_started", 1000.0), ("step", 1015.5), ("run_finished", 1020.0))]  # 20 s
    assert run_seconds(lines) == 80.0
    assert run_seconds(lines[:2] + ["{cut sh"]) is None  # a damaged last line: not known
    assert run_seconds([]) is None


def test_compare_labels_runs_by_what_differs_and_tables_their_numbers(tmp_path: Path) -> None:
    a, b, app = two_runs(tmp_path)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("3")
            await reads_done(pilot)
            await pilot.press("space", "down", "space", "c")
            await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare screen")
            cmp = app.screen
            assert cmp.labels == ["lfm alpha.strategy=constant", "lfm alpha.strategy=heuristic"]
            legend = str(cmp.query_one("#compare-legend", Static).render())
            assert legend == "━━ 1 lfm alpha.strategy=constant\n━━ 2 lfm alpha.strategy=heuristic"
            charts = list(cmp.query(CompareChart))
            assert len(charts) == 4  # alpha, fused, pix, mor
            assert [c.border_title for c in charts] == ["alpha by epoch", "fused val ACC", "pix val ACC",
                                                         "mor val ACC"]  # on the frame: kept however small
            for chart in charts:  # the legend is beside the charts, not on them
                drawn = chart.plt.build()
                assert "strategy" not in drawn and "constant" not in drawn
            table = cmp.query_one("#compare-table", DataTable)
            assert [str(c.label) for c in table.ordered_columns] == ["", "1", "2"]
            rows = {str(table.get_row_at(i)[0]): [str(v) for v in table.get_row_at(i)[1:]]
                    for i in range(table.row_count)}
            assert list(rows) == ["best epoch", "val ACC", "val ACC pix", "val ACC mor", "val accuracy gap", "test ACC",
                                  "test ACC pix", "test ACC mor", "test accuracy gap", "train total", "train cls",
                                  "train mm", "val loss"]
            sums = [json.loads((f / "summary.json").read_text()) for f in (b, a)]
            assert rows["best epoch"] == ["4", "4"]
            assert rows["val ACC"] == [f"{s['best']['acc']:.2f}" for s in sums] == ["93.33", "96.33"]
            assert rows["val ACC pix"] == [f"{s['best']['acc_pix']:.2f}" for s in sums] == ["86.67", "86.67"]
            assert rows["val accuracy gap"] == ["44.00", "44.00"]
            assert rows["test ACC"] == [f"{s['test']['acc']:.2f}" for s in sums] == ["95.00", "98.00"]
            assert rows["test ACC mor"] == ["44.00", "44.00"] and rows["test accuracy gap"] == ["41.00", "41.00"]
            assert rows["val loss"] == [f"{s['best']['loss']:.4f}" for s in sums] == ["0.1687", "0.1687"]
            last_step = [e for e in map(json.loads, FIXTURE.read_text().splitlines())
                         if e["type"] == "step"][-1]["losses"]
            assert rows["train total"] == [f"{last_step['total']:.4f}"] * 2
    asyncio.run(scenario())
