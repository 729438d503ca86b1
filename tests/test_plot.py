"""`lfm plot`: the curves and bars figures of two configurations x two seeds, read back: PNG size
and content, SVG labels and element counts, the numbers drawn against the runs' own files; bad
input is one line and exit status 2; the figures never import torch, the UI never matplotlib."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.contract import events as ev
from lfm_plot.__main__ import main as plot_main
from lfm_plot.series import PlotError, read_curves
from lfm_tui import plan as plans

from test_cli_run import ENV, LFM
from test_sweep_compare import fake_run

ROOT = Path(__file__).resolve().parents[1]
EPOCHS, STEPS = 3, 4
MODS = ("pix", "mor")


def val_acc(method: str, seed: int, epoch: int, key: str) -> float:
    """The validation ACC the fake runs report: distinct per configuration, seed, epoch, modality."""
    base = {"lfm": 70.0, "concat": 60.0}[method] + {"fused": 10.0, "pix": 5.0, "mor": 0.0}[key]
    return base + 3.0 * epoch + 1.5 * seed * ((1 + MODS.index(key)) if key in MODS else 1)


def alpha_at(seed: int, epoch: int, step: int) -> float:
    return round(0.1 * epoch + 0.01 * step + 0.05 * seed, 6)


def write_events(run: Path, method: str, seed: int, garbage: bool = False) -> None:
    """The events of a run: run_started, then per epoch a step event every 2 steps, a
    validation eval and (LFM) an alpha update; `garbage` mixes damaged lines in, and a step that
    a later event of the same step replaces (a resumed run repeats what it had not checkpointed)."""
    uses_alpha = method == "lfm"
    evs = [ev.make("run_started", run_id=run.name, recipe={}, recipe_name="toy", dataset="mfeat",
                   modalities=list(MODS), run_dir=str(run), epochs=EPOCHS, steps_per_epoch=STEPS,
                   resumed_from=None)]
    for t in range(1, EPOCHS + 1):
        for i in (2, 4):
            evs.append(ev.make("step", epoch=t, step=i, global_step=(t - 1) * STEPS + i,
                               losses={"total": 1.0 / t}, alpha=alpha_at(seed, t, i) if uses_alpha else 0.0,
                               lr=0.1, samples_per_s=100.0))
        evs.append(ev.make("eval", split="val", epoch=t, loss=1.0 / t,
                           fused={"acc": val_acc(method, seed, t, "fused"), "map": 50.0, "f1": 50.0},
                           modalities={m: {"acc": val_acc(method, seed, t, m), "map": 1.0, "f1": 1.0} for m in MODS},
                           gap=1.0, modality_gap=0.5))
        if uses_alpha:
            evs.append(ev.make("alpha_updated", epoch=t, alpha=0.5, hypergradient=0.0, method="heuristic",
                               seconds=0.0))
    lines = [e.to_json() for e in evs]
    if garbage:
        lines[2:2] = ["not json at all", '{"v": 1, "type": "eval", "seq": 3}', '{"v":1,"type":"step","epo']
        lines.insert(5, '{"v": 1, "type": "eval", "split": "val", "epoch": "two"}')
        lines.insert(1, ev.make("step", epoch=1, step=2, global_step=2, losses={}, alpha=9.9, lr=0.1,
                                samples_per_s=1.0).to_json())
    (run / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


TESTS = {  # (method, seed) -> test metrics of summary.json
    ("lfm", 0): {"acc": 90.0, "map": 91.0, "f1": 89.0, "acc_pix": 80.0, "acc_mor": 50.0, "gap": 30.0},
    ("lfm", 1): {"acc": 93.0, "map": 92.0, "f1": 90.0, "acc_pix": 83.5, "acc_mor": 56.0, "gap": 27.5},
    ("concat", 0): {"acc": 85.0, "map": 86.0, "f1": 84.0, "acc_pix": 82.0, "acc_mor": 30.0, "gap": 52.0},
    ("concat", 1): {"acc": 86.0, "map": 87.0, "f1": 85.0, "acc_pix": 81.0, "acc_mor": 41.0, "gap": 40.0},
}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Two configurations x two seeds as a sweep folder lays them out, plus a cancelled run."""
    folder = tmp_path / "sweep"
    for (method, seed), test in TESTS.items():
        run = fake_run(folder / f"method.name={method}" / f"seed-{seed}", method, seed, test)
        write_events(run, method, seed, garbage=(method, seed) == ("lfm", 1))
    write_events(fake_run(folder / "method.name=lfm" / "seed-2", "lfm", 2, None, status="cancelled"), "lfm", 2)
    (folder / "sweep.json").write_text("{}")
    return folder


def lfm(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(LFM + args, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), ENV.get("PYTHONPATH", "")])})


def test_lfm_plot_writes_png_figures_of_the_requested_size(sweep: Path, tmp_path: Path) -> None:
    res = lfm(["plot", str(sweep), "--out", str(tmp_path / "fig"), "--dpi", "50", "--size", "8x6"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "written:" in res.stdout and "seed-2 (cancelled)" in res.stdout
    for name in ("curves.png", "bars.png"):
        with Image.open(tmp_path / "fig" / name) as im:
            assert im.format == "PNG" and im.size == (400, 300)
            colours = im.convert("RGB").getcolors(maxcolors=400 * 300)
        assert len(colours) > 20, name  # lines, bands, bars and text, not a blank canvas
        assert max(n for n, _ in colours) < 0.95 * 400 * 300, name  # not all background


def svg(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_bars_show_the_mean_and_std_over_seeds_of_the_summaries(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig"
    assert plot_main([str(sweep), "--out", str(out), "--format", "svg", "--figures", "bars", "--bars", "bars"]) == 0
    assert not (out / "curves.svg").exists()
    doc = json.loads((out / "bars.json").read_text())
    assert doc["kind"] == "bars"
    assert [m["key"] for m in doc["metrics"]] == ["acc", "acc_pix", "acc_mor"]
    assert [r["label"] for r in doc["rows"]] == ["concat", "lfm"]  # the rows of lfm compare, in its order
    for row in doc["rows"]:
        assert row["seeds"] == [0, 1]
        for key in ("acc", "acc_pix", "acc_mor"):
            vals = [TESTS[(row["label"], s)][key] for s in (0, 1)]
            assert row["values"][key]["mean"] == pytest.approx(statistics.fmean(vals))
            assert row["values"][key]["std"] == pytest.approx(statistics.stdev(vals))
    assert doc["rows"][1]["values"]["acc_mor"] == pytest.approx({"mean": 53.0, "std": 4.242640687})
    text = svg(out / "bars.svg")
    assert ">concat</text>" in text and ">lfm</text>" in text and ">ACC mor</text>" in text
    assert text.count('id="bar-') == 6  # 2 rows x (fused, pix, mor)
    assert all(f'id="bar-{k}-{i}"' in text for k in ("acc", "acc_pix", "acc_mor") for i in (0, 1))


def test_curves_show_alpha_and_validation_acc_by_epoch(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig"
    assert plot_main([str(sweep), "--out", str(out), "--format", "svg", "--figures", "curves",
                      "--prefix", "toy_"]) == 0
    doc = json.loads((out / "toy_curves.json").read_text())
    panels = {p["key"]: p for p in doc["panels"]}
    assert list(panels) == ["alpha", "fused", "pix", "mor"]
    (alpha,) = panels["alpha"]["rows"]  # concat weights no matching loss: no alpha line
    # at the start of steps 2 and 4 of 4 in each epoch, the last held to the end of epoch 3
    assert alpha["label"] == "lfm" and alpha["x"] == [0.25, 0.75, 1.25, 1.75, 2.25, 2.75] and alpha["until"] == 3.0
    assert alpha["mean"][0] == pytest.approx((alpha_at(0, 1, 2) + alpha_at(1, 1, 2)) / 2)
    assert alpha["mean"][3] == pytest.approx((alpha_at(0, 2, 4) + alpha_at(1, 2, 4)) / 2)
    assert alpha["std"][3] == pytest.approx(statistics.stdev([alpha_at(0, 2, 4), alpha_at(1, 2, 4)]))
    for key in ("fused", *MODS):
        rows = {r["label"]: r for r in panels[key]["rows"]}
        assert set(rows) == {"concat", "lfm"}
        for method, row in rows.items():
            assert row["x"] == [1, 2, 3] and row["n"] == [2, 2, 2]
            per_seed = [[val_acc(method, s, t, key) for s in (0, 1)] for t in (1, 2, 3)]
            assert row["mean"] == pytest.approx([statistics.fmean(v) for v in per_seed])
            assert row["std"] == pytest.approx([statistics.stdev(v) for v in per_seed])
    text = svg(out / "toy_curves.svg")
    assert text.count('id="curve-') == 7 and text.count('id="band-') == 7  # alpha 1, fused and each modality 2
    assert 'id="curve-alpha-1"' in text and 'id="curve-alpha-0"' not in text
    assert ">concat</text>" in text and ">lfm</text>" in text and ">validation ACC, mor</text>" in text


def test_labels_name_the_rows_of_the_runs_below_a_folder(sweep: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "fig"
    args = [str(sweep), "--out", str(out), "--format", "svg", "--figures", "bars"]
    assert plot_main([*args, "--label", f"{sweep}/method.name=concat=plain = concat",
                      "--label", f"{sweep / 'method.name=lfm' / 'seed-1'}=LFM (ours)"]) == 0
    assert [r["label"] for r in json.loads((out / "bars.json").read_text())["rows"]] == ["plain = concat", "LFM (ours)"]
    assert ">plain = concat</text>" in svg(out / "bars.svg") and ">LFM (ours)</text>" in svg(out / "bars.svg")
    capsys.readouterr()
    assert plot_main([*args, "--label", f"{sweep}=both"]) == 2
    assert f"--label {sweep}=both: {sweep} holds finished runs of 2 rows" in capsys.readouterr().err
    assert plot_main([*args, "--label", f"{tmp_path / 'nowhere'}=x"]) == 2
    assert "--label: expected FOLDER=TEXT naming an existing folder" in capsys.readouterr().err


def test_without_out_the_figures_go_into_the_sweep_folder(sweep: Path, tmp_path: Path) -> None:
    assert plot_main([str(sweep), "--format", "svg"]) == 0
    assert all((sweep / f).is_file() for f in ("curves.svg", "curves.json", "bars.svg", "bars.json"))


def damage_events(sweep: Path) -> str:
    run = sweep / "method.name=concat" / "seed-1"
    (run / "events.jsonl").write_bytes(b"\x00\xff garbage\n{\"v\": 1, \"type\": \"eval\"}\n")
    return f"{run / 'events.jsonl'}: no validation result in it"


@pytest.mark.parametrize("case", ["no runs", "damaged events", "out is a file", "bad size"])
def test_bad_input_is_one_line_and_exit_status_2(sweep: Path, tmp_path: Path, case: str, capsys) -> None:
    """Through `lfm` (a child process) for the first two, through lfm_plot's main for the others."""
    out = tmp_path / "fig"
    args = [str(sweep), "--out", str(out)]
    if case == "no runs":
        (tmp_path / "empty").mkdir()
        args[0], expected = str(tmp_path / "empty"), f"{tmp_path / 'empty'}: not a run folder and holds none"
    elif case == "damaged events":
        expected = damage_events(sweep)
    elif case == "out is a file":
        out.write_text("x")
        expected = f"{out}: not a folder"
    else:
        args += ["--size", "8by6"]
        expected = "--size: expected WxH in inches"
    if case in ("no runs", "damaged events"):
        res = lfm(["plot", *args], tmp_path)
        code, stdout, stderr = res.returncode, res.stdout, res.stderr
    else:
        code = plot_main(args)
        stdout, stderr = capsys.readouterr()
    assert code == 2, stdout + stderr
    assert expected in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr + stdout and not stdout
    assert not out.is_dir()


def test_the_figures_never_import_torch_and_the_ui_never_matplotlib() -> None:
    code = ("import sys, lfm_plot.__main__, lfm_plot.figures, lfm_plot.series, lfm_tui.cli\n"
            "print([m for m in ('torch', 'transformers') if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr
    code = "import sys, lfm_tui.cli\nprint([m for m in ('matplotlib', 'numpy', 'lfm_plot') if m in sys.modules])"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


LINES = st.one_of(st.text(max_size=40), st.sampled_from([
    ('{"v":1,"type":"step","seq":1,"time":0,"epoch":1,"step":2,"global_step":2,"losses":{},"alpha":0.3,'
     '"lr":0.1,"samples_per_s":1}'),
    ('{"v":1,"type":"eval","seq":2,"time":0,"split":"val","epoch":1,"loss":1,"fused":{"acc":50},'
     '"modalities":{"pix":{"acc":null}},"gap":null,"modality_gap":null}'),
    '{"v":1,"type":"run_started","steps_per_epoch":"four"}', '{"v":2,"type":"log"}', "[1, 2]", "null"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, max_size=12))
def test_any_events_file_gives_curves_or_a_plot_error(tmp_path: Path, lines: list[str]) -> None:
    (tmp_path / "events.jsonl").write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        curves = read_curves(tmp_path)
    except PlotError as exc:
        assert str(exc).startswith(str(tmp_path / "events.jsonl"))
        return
    assert curves.val["fused"] == {1: 50.0} and set(curves.alpha.values()) <= {0.3}


@pytest.mark.slow
def test_real_runs_plot_their_own_events_and_summaries(tiny_mfeat: Path, tmp_path: Path) -> None:
    """A real sweep (concat and LFM, one seed): the alpha line is the alpha of the LFM run's
    step events, the bars are its summary's test ACCs."""
    sw = tmp_path / "sw"
    res = lfm(["sweep", str(tiny_mfeat), "--grid", "method.name=concat,lfm", "--seeds", "0", "--out", str(sw)],
              tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    res = lfm(["plot", str(sw), "--format", "svg"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    run = sw / plans.folder_name({"method.name": "lfm"}) / "seed-0"
    steps = [e for e in map(json.loads, (run / "events.jsonl").read_text().splitlines()) if e["type"] == "step"]
    (alpha,) = json.loads((sw / "curves.json").read_text())["panels"][0]["rows"]
    assert alpha["label"] == "lfm" and alpha["mean"] == [e["alpha"] for e in steps]
    assert alpha["until"] == 2.0 and 0 <= alpha["x"][0] < alpha["x"][-1] < 2.0 and alpha["std"] == [None] * len(steps)
    test = json.loads((run / "summary.json").read_text())["test"]
    bars = {r["label"]: r["values"] for r in json.loads((sw / "bars.json").read_text())["rows"]}
    assert bars["lfm"]["acc"] == {"mean": test["acc"], "std": None}
    assert bars["lfm"]["acc_mor"]["mean"] == test["acc_mor"]
    assert (sw / "curves.svg").read_text().count('id="curve-') == 1 + 2 * 3
