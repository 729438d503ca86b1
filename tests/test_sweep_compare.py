"""Seeds, sweeps and the comparison table: parsing, validation before anything runs, the
aggregation's numbers, an interrupted sweep resumed, and `lfm run --seeds`."""
from __future__ import annotations

import json
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lfm_tui import compare, compare_files
from lfm_tui import plan as plans
from lfm_tui.cli import app

from test_cli_run import ENV, LFM, lfm


def test_parse_seeds_and_grid() -> None:
    assert plans.parse_seeds("0,1,2") == [0, 1, 2]
    assert plans.parse_seeds("3-5,9") == [3, 4, 5, 9]
    for bad in ("a", "1,1", "2-1", ""):
        with pytest.raises(plans.SweepError):
            plans.parse_seeds(bad)
    assert plans.parse_grid(["method.name=concat,lfm", "data.modalities=[pix,mor],[pix,fou]"]) == [
        ("method.name", ["concat", "lfm"]), ("data.modalities", ["[pix,mor]", "[pix,fou]"])]
    with pytest.raises(plans.SweepError, match="expected KEY=VALUE1,VALUE2"):
        plans.parse_grid(["method.name"])
    with pytest.raises(plans.SweepError, match="give seeds with --seeds"):
        plans.parse_grid(["train.seed=1,2"])


@pytest.mark.parametrize("grid,message", [
    ("alpha.strategi=constant,heuristic", "alpha.strategi: unknown key (did you mean 'alpha.strategy'?)"),
    ("method.name=concat,nope", "grid point method.name=nope"),
    ("optim.lr=0.1,-1", "optim.lr: expected a value > 0.0, found -1.0"),
])
def test_a_bad_grid_is_refused_before_anything_runs(tiny_mfeat: Path, tmp_path: Path, grid: str,
                                                    message: str) -> None:
    res = CliRunner().invoke(app, ["sweep", str(tiny_mfeat), "--grid", grid, "--out", str(tmp_path / "sw")])
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "sw").exists()


def test_a_grid_value_can_complete_the_base_recipe(tiny_mfeat: Path, tmp_path: Path) -> None:
    """method.name=unimodal alone is invalid (no modality); each grid point supplies one."""
    pts = plans.validated(tiny_mfeat, ["method.name=unimodal"], [("method.modality", ["pix", "mor"])], [0, 1])
    pix, mor = plans.folder_name({"method.modality": "pix"}), plans.folder_name({"method.modality": "mor"})
    assert [(p.folder, p.seed) for p in pts] == [(pix, 0), (mor, 0), (pix, 1), (mor, 1)]
    assert pix.startswith("method.modality=pix-") and pix != mor
    assert plans.recipe_name(tiny_mfeat, ["method.name=unimodal"]) == "tiny_mfeat"
    res = CliRunner().invoke(app, ["sweep", str(tiny_mfeat), "method.name=unimodal", "--grid",
                                   "method.modality=pix,fou", "--out", str(tmp_path / "sw")])
    assert res.exit_code == 2 and "grid point method.modality=fou" in res.output
    assert not (tmp_path / "sw").exists()


def fake_run(folder: Path, method: str, seed: int, test: dict | None, status: str = "ok",
             modality: str = "") -> Path:
    folder.mkdir(parents=True)
    extra = f'modality = "{modality}"\n' if modality else ""
    (folder / "recipe.toml").write_text(
        f'name = "toy"\n[data]\nname = "mfeat"\nmodalities = ["pix", "mor"]\n'
        f'[method]\nname = "{method}"\n{extra}[train]\nseed = {seed}\nepochs = 3\n')
    (folder / "events.jsonl").write_text("")
    (folder / "summary.json").write_text(json.dumps({"status": status, "test": test}))
    return folder


def test_compare_groups_seeds_and_computes_mean_and_std(tmp_path: Path) -> None:
    accs = {0: 90.0, 1: 92.0, 2: 97.0}
    for s, a in accs.items():
        fake_run(tmp_path / f"lfm-{s}", "lfm", s, {"acc": a, "map": 95.0, "f1": a - 1, "acc_pix": 80.0 + s,
                                                     "acc_mor": 40.0, "gap": 40.0 + s})
        fake_run(tmp_path / f"uni-{s}", "unimodal", s, {"acc": 70.0 + s, "map": 75.0, "f1": 69.0,
                                                         "acc_mor": 70.0 + s, "gap": 0.0}, modality="mor")
    fake_run(tmp_path / "lfm-9", "lfm", 9, None, status="cancelled")
    rows, runs = compare.compare([tmp_path])
    assert [r.label for r in rows] == ["mor alone", "lfm"]  # method order of the recipe schema
    uni, lfm_row = rows
    assert lfm_row.seeds == [0, 1, 2]
    mean, std = lfm_row.stat("acc")
    assert mean == pytest.approx(93.0) and std == pytest.approx(statistics.stdev(accs.values()))
    head, body = compare.table_rows(rows)
    # modalities in the recipes' data.modalities order
    assert head == ["method", "seeds", "ACC", "MAP", "macro-F1", "ACC pix", "ACC mor", "accuracy gap (test, ACC points)"]
    assert body[1][2] == f"93.00 ± {statistics.stdev(accs.values()):.2f}"
    assert body[0][-1] == "-" and body[0][5] == "-"  # one modality: no gap, no pix
    md = compare_files.to_markdown(rows)
    assert md.splitlines()[0].startswith("| method | seeds | ACC |") and "| lfm | 3 | 93.00 ±" in md
    csv_lines = compare_files.to_csv(rows).splitlines()
    assert csv_lines[0].startswith("method,seeds,n,acc_mean,acc_std,map_mean")
    assert csv_lines[2].startswith("lfm,0 1 2,3,93.0000,")
    data = compare_files.to_json(rows, runs)
    assert data["not_finished"] == [{"run": str(tmp_path / "lfm-9"), "status": "cancelled"}]

    # the CLI: the table, and Markdown / CSV / JSON files
    res = CliRunner().invoke(app, ["compare", str(tmp_path), "--out", str(tmp_path / "out" / "table")],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "93.00 ±" in res.output and "not finished, left out" in res.output
    assert (tmp_path / "out" / "table.md").read_text().count("\n| ") == 3
    assert (tmp_path / "out" / "table.csv").is_file() and (tmp_path / "out" / "table.json").is_file()


def test_compare_refuses_folders_without_runs(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert res.exit_code == 2 and "not a run folder and holds none" in res.output
    res = CliRunner().invoke(app, ["compare", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such folder" in res.output


def _events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_interrupted_sweep_resumes_skipping_finished_runs(tiny_mfeat: Path, tmp_path: Path) -> None:
    sw = tmp_path / "sw"
    cmd = LFM + ["sweep", str(tiny_mfeat), "train.epochs=3", "data.batch_size=16", "--grid",
                 "method.name=concat,ogm_ge", "--seeds", "0", "--out", str(sw)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    first = sw / plans.folder_name({"method.name": "concat"}) / "seed-0"
    second = sw / plans.folder_name({"method.name": "ogm_ge"}) / "seed-0"
    deadline = time.time() + 240
    while time.time() < deadline and not (second / "checkpoints" / "last.pt").is_file():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C while the second run trains
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert f"lfm sweep --resume {sw}" in out.replace("\n", "")
    assert json.loads((first / "summary.json").read_text())["status"] == "ok"
    assert json.loads((second / "summary.json").read_text())["status"] == "cancelled"
    finished_first = (first / "events.jsonl").read_text()

    res = lfm(["sweep", "--resume", str(sw)], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "finished, skipped" in res.stdout
    assert (first / "events.jsonl").read_text() == finished_first       # not run again
    assert [e["type"] for e in _events(second)].count("run_started") == 2  # resumed, not restarted
    assert _events(second)[-1]["status"] == "ok"
    rows, _ = compare.compare([sw])
    assert [(r.label, r.seeds) for r in rows] == [("concat", [0]), ("ogm_ge", [0])]
    summary = json.loads((sw / "summary.json").read_text())
    assert [r["label"] for r in summary["rows"]] == ["concat", "ogm_ge"]
    assert "| concat | 1 |" in (sw / "summary.md").read_text()
    # a finished sweep is not started again over itself
    again = lfm(["sweep", str(tiny_mfeat), "--out", str(sw)], tmp_path)
    assert again.returncode == 2 and "lfm sweep --resume" in again.stderr


@pytest.mark.slow
def test_run_with_seeds_writes_a_summary_next_to_the_runs(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = lfm(["run", str(tiny_mfeat), "train.epochs=1", "method.name=sum", "--seeds", "0,1",
               "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    (folder,) = (tmp_path / "runs" / "tiny_mfeat").glob("seeds-*")
    seeds = [json.loads((folder / f"seed-{s}" / "summary.json").read_text()) for s in (0, 1)]
    assert [s["seed"] for s in seeds] == [0, 1] and all(s["method"] == "sum" for s in seeds)
    summary = json.loads((folder / "summary.json").read_text())
    (row,) = summary["rows"]
    accs = [s["test"]["acc"] for s in seeds]
    assert row["seeds"] == [0, 1]
    assert row["metrics"]["acc"]["mean"] == pytest.approx(statistics.fmean(accs))
    assert row["metrics"]["acc"]["std"] == pytest.approx(statistics.stdev(accs))
    assert (folder / "summary.md").read_text().count("| sum | 2 |") == 1


def test_engine_run_dir_must_be_new_or_empty(tiny_mfeat: Path, tmp_path: Path) -> None:
    from conftest import run_engine

    full = tmp_path / "taken"
    full.mkdir()
    (full / "notes.txt").write_text("keep me")
    res = run_engine([str(tiny_mfeat), "--run-dir", str(full)], tmp_path)
    assert res.returncode == 2 and "--run-dir must be a new or empty folder" in res.stderr
    assert "Traceback" not in res.stderr and (full / "notes.txt").read_text() == "keep me"


def test_rows_are_labelled_only_by_the_keys_that_apply_to_their_method() -> None:
    from lfm_tui.compare import labels

    configs = [{"method.name": "concat", "alpha.strategy": "heuristic", "method.ogm_ge.alpha": "0.1"},
               {"method.name": "lfm", "alpha.strategy": "constant", "method.ogm_ge.alpha": "0.1"},
               {"method.name": "ogm_ge", "alpha.strategy": "heuristic", "method.ogm_ge.alpha": "0.2"}]
    # concat uses no alpha and no OGM-GE keys; LFM no OGM-GE keys
    assert labels(configs) == ["concat", "lfm alpha.strategy=constant", "ogm_ge method.ogm_ge.alpha=0.2"]


def test_a_plan_read_back_is_the_plan_written(tmp_path: Path, tiny_mfeat: Path) -> None:
    """sweep.json is read once into a typed Plan: every field as written, the grid as pairs."""
    written = plans.new(tiny_mfeat, ["train.epochs=1"], [("method.name", ["concat", "lfm"])], [0, 3],
                        ["lfm", "sweep", "x"])
    written.write(tmp_path)
    back = plans.Plan.read(tmp_path)
    assert back == written and back.name == "tiny_mfeat" and back.naming == plans.FOLDER_NAMING
    assert back.grid == [("method.name", ["concat", "lfm"])] and back.seeds == [0, 3]
    assert back.run_overrides == ["train.epochs=1", "name=tiny_mfeat"]
    assert [(p.values["method.name"], p.seed) for p in back.points()] == [
        ("concat", 0), ("lfm", 0), ("concat", 3), ("lfm", 3)]
