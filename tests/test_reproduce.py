"""`lfm reproduce`: an experiment of the paper as sweeps in one folder and a report whose
numbers are those of the runs' summaries, beside the paper's; the plan on a dataset of the
paper in its community layout; bad input in one line with exit status 2."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import layouts as L
from engine.contract import layout
from engine.contract.data_folders import CREMAD_LAYOUT as L_CREMAD
from engine.contract.outcome import EXIT_USAGE
from lfm_tui.reproduce import paper

LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]
TINY = ["train.epochs=2", "train.threads=1", "review.gap_samples=0"]   # no end-of-run review: 2 s a run


def lfm(*args: str, cwd: Path, timeout: float = 600, own_cache: bool = True) -> subprocess.CompletedProcess:
    """`lfm ARGS` in cwd; a dataset of the paper's prepared cache in cwd/cache (own_cache), or
    the user's cache (the built-in emoji's MiniLM embeddings, computed once for the suite)."""
    env = {**os.environ, "LFM_CACHE": str(cwd / "cache")} if own_cache else dict(os.environ)
    return subprocess.run([*LFM, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def summary_test(run: Path) -> dict:
    return json.loads((run / layout.SUMMARY).read_text())["test"]


def report_row(report: str, row: str) -> list[str]:
    """The cells of a row of the report's table (first cell `row`)."""
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == row:
            return cells[1:]
    raise AssertionError(f"no row {row!r} in the report")


@pytest.mark.slow
def test_table4_on_a_builtin_dataset_reports_the_numbers_of_its_runs(tmp_path: Path) -> None:
    out = tmp_path / "t4"
    res = lfm("reproduce", "table4", "--data", "mfeat", "--seeds", "0", "--rows", "ours-h,ours-lb,constant-0",
              "--out", str(out), *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    # one sweep folder per row, each of which lfm compare and lfm sweep --status read
    assert sorted(p.name for p in (out / "mfeat").iterdir()) == ["constant-0", "ours-h", "ours-lb"]
    assert all(layout.is_sweep(p) for p in (out / "mfeat").iterdir())
    report = (out / "report.md").read_text()
    assert report.startswith("# table4: ")
    assert re.search(r"Versions: lfm-console \S+, torch \S+, CUDA ", report)
    assert f"--rows ours-h,ours-lb,constant-0 --out {out}" in report
    assert report_row(report, "row")[:4] == ["ACC fused", "ACC pix", "ACC mor", "ACC gap"]
    for key, row in (("ours-h", "Ours-H"), ("ours-lb", "Ours-LB"), ("constant-0", "constant 0")):
        t = summary_test(out / "mfeat" / key / "seed-0")
        cells = report_row(report, row)
        assert cells == [f"{t['acc']:.2f} (n=1)", f"{t['acc_pix']:.2f} (n=1)", f"{t['acc_mor']:.2f} (n=1)",
                         f"{abs(t['acc_pix'] - t['acc_mor']):.2f} (n=1)"]
    # the paper's datasets not given: its numbers, from the numbers file, and "not given"
    ks = paper.lookup("table4", "Ours-LB", "kinetics_sounds", "acc", "audio").value
    cd = paper.lookup("table4", "Ours-LB", "cremad", "acc", "audio").value
    assert f"| Ours-LB | Ours-LB / Audio | not given (paper {ks:.2f}) | not given (paper {cd:.2f}) |" in report
    # the same command again runs nothing new and writes the same numbers
    before = {p: p.read_bytes() for p in out.rglob(layout.EVENTS)}
    again = lfm("reproduce", "table4", "--data", "mfeat", "--seeds", "0", "--rows", "ours-h,ours-lb,constant-0",
                "--out", str(out), *TINY, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {p: p.read_bytes() for p in out.rglob(layout.EVENTS)} == before
    assert report_row((out / "report.md").read_text(), "Ours-H") == report_row(report, "Ours-H")
    # another request into the same folder is refused in one line
    other = lfm("reproduce", "table4", "--data", "mfeat", "--seeds", "0,1", "--out", str(out), cwd=tmp_path)
    assert other.returncode == EXIT_USAGE and other.stderr.strip().count("\n") == 0
    assert "holds another reproduction" in other.stderr


@pytest.mark.slow
def test_fig3_draws_the_learned_alpha_against_the_heuristic(tmp_path: Path) -> None:
    out = tmp_path / "f3"
    res = lfm("reproduce", "fig3", "--data", "mfeat", "--seeds", "0", "--out", str(out), *TINY, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    series = json.loads((out / "fig3.json").read_text())["mfeat"]
    events = [json.loads(x) for x in (out / "mfeat" / "ours-lb" / "seed-0" / layout.EVENTS).read_text().splitlines()]
    trained = {e["epoch"]: e["alpha"] for e in events if e["type"] == "step"}   # the last step's alpha per epoch
    assert [(p["epoch"], p["fraction"], p["alpha"]) for p in series] == [(1, 0.5, trained[1]), (2, 1.0, trained[2])]
    assert [round(p["omega"], 4) for p in series] == [0.6321, 0.3935]   # 1 - exp(-1/t)
    png = (out / "fig3.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    report = (out / "report.md").read_text()
    assert f"| 0.50 | 1 | {trained[1]:.3f} | 0.632 |" in report and "![alpha over training](fig3.png)" in report


# a CREMA-D model small enough for the generated fixture: seconds a run
TINY_CREMAD = ["data.image_size=32", "data.frames=2", "data.val_fraction=0.5", "data.batch_size=4",
               "data.eval_batch_size=8", "data.workers=0", "model.feature_dim=8", "model.projection_dim=4",
               "model.encoders.audio.kind=cnn", "model.encoders.audio.channels=[4,8]", "model.encoders.video.kind=cnn",
               "model.encoders.video.channels=[4,8]", "train.epochs=1", "train.threads=1", "train.log_every=1"]


@pytest.mark.slow
@pytest.mark.parametrize("experiment,key,row,metric", [("table3", "cl-di", "CL and DI", "map"),
                                                        ("table1", "concat", "Concat", "acc")])
def test_on_cremad_data_the_report_puts_the_papers_number_beside_the_runs(tmp_path: Path, experiment, key, row,
                                                                          metric) -> None:
    root = L.cremad(tmp_path / "cremad")
    out = tmp_path / "r"
    res = lfm("reproduce", experiment, "--data", f"cremad={root}", "--seeds", "0", "--rows", key, "--out", str(out),
              *TINY_CREMAD, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    t = summary_test(out / "cremad" / key / "seed-0")
    theirs = paper.lookup(experiment, row, "cremad", metric)
    report = (out / "report.md").read_text()
    column = "MAP fused" if experiment == "table3" else "ACC"
    cells = report_row("\n".join(line for line in report.splitlines() if f"| {column} |" in line), row)
    verdict = "below" if t[metric] < theirs.value else "above"   # a one-epoch model on 12 clips: far from the paper
    assert cells == [column, f"{t[metric]:.2f} (n=1)", f"{theirs.value:.2f}", f"{t[metric] - theirs.value:+.2f}",
                     verdict]
    # KineticsSounds, Sarcasm, Twitter2015 (table3) / KS, Sarcasm, Twitter2015, NVGesture (table1): not given
    assert "| kinetics_sounds | sarcasm | twitter2015 |" in report


@pytest.mark.slow
def test_fig2_reports_the_modality_gap_distance_of_each_method(tmp_path: Path) -> None:
    out = tmp_path / "f2"
    res = lfm("reproduce", "fig2", "--data", "mfeat", "--seeds", "0", "--rows", "concat", "--out", str(out), *TINY,
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    t = summary_test(out / "mfeat" / "concat" / "seed-0")
    report = (out / "report.md").read_text()
    assert report_row(report, "row") == ["feature gap (test, encoder features)", "ACC"]
    assert report_row(report, "CONCAT") == [f"{t['modality_gap']:.3f} (n=1)", f"{t['acc']:.2f} (n=1)"]
    assert "Not given: cremad (the paper's figure shows them)." in report


@pytest.mark.slow
def test_fig4_draws_the_epochs_of_each_method_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "f4"
    res = lfm("reproduce", "fig4", "--seeds", "0", "--out", str(out), *TINY, cwd=tmp_path,
              own_cache=False)
    assert res.returncode == 0, res.stderr[-2000:]
    runs = {k: out / "emoji" / k / "seed-0" for k in ("concat", "ours-lb")}
    for run in runs.values():   # epoch 1 and the last (2); epoch 7 is beyond the run
        assert sorted(p.name for p in (run / "figures" / "gradcam").glob("image-epoch*.png")) == [
            "image-epoch001.png", "image-epoch002.png"]
    spec = json.loads((out / "fig4-emoji.json").read_text())
    assert spec["title"] == "emoji: Grad-CAM of image"
    assert [(r["label"], [(i["epoch"], Path(i["path"])) for i in r["images"]]) for r in spec["rows"]] == [
        (label, [(e, (runs[k] / "figures" / "gradcam" / f"image-epoch00{e}.png").resolve()) for e in (1, 2)])
        for label, k in (("CONCAT (seed 0)", "concat"), ("LFM (Ours-LB) (seed 0)", "ours-lb"))]
    from PIL import Image
    with Image.open(runs["concat"] / "figures" / "gradcam" / "image-epoch001.png") as sheet:
        w, h = sheet.size    # one sample of each of the 9 classes
    assert (w, h) == (450 + 4, 9 * (215 + 4))
    with Image.open(out / "fig4-emoji.png") as fig:
        assert fig.size == (4 * w + 2 * 40, h + 90)   # two methods, two epochs each, at the sheets' pixels
    report = (out / "report.md").read_text()
    test = summary_test(runs["concat"])
    assert (f"The weak modality: image (its split-head test ACC under CONCAT is the lowest: image "
            f"{test['acc_image']:.2f}, text {test['acc_text']:.2f})") in report
    assert test["acc_image"] < test["acc_text"]
    assert "| CONCAT (seed 0) | emoji/concat/seed-0 | 1, 2 |" in report
    assert "](fig4-emoji.png)" in report and "Not given: twitter2015 (the paper's figure shows them)." in report


def test_fig4_dry_run_lists_the_runs_with_the_epochs_drawn(tmp_path: Path) -> None:
    res = lfm("reproduce", "fig4", "--out", str(tmp_path / "r"), "--dry-run", cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    assert re.findall(r"^  (\S+(?: \S+)?)\s+\[(\S+)\] (.*)  ->", res.stdout, re.M) == [
        ("CONCAT", "concat", "review.gradcam_per_class=1 review.gradcam_epochs=[1,7,-1] method.name=concat"),
        ("LFM (Ours-LB)", "ours-lb", "review.gradcam_per_class=1 review.gradcam_epochs=[1,7,-1] method.name=lfm "
                                     "alpha.strategy=learned")]
    assert "emoji (built in)" in res.stdout and "20 epochs" in res.stdout
    assert "6 runs (2 sweeps x 3 seeds), 6 still to run" in res.stdout
    short = lfm("reproduce", "fig4", "--out", str(tmp_path / "r"), "--dry-run", "train.epochs=5", cwd=tmp_path,
                timeout=120)
    assert "review.gradcam_epochs=[1,-1]" in short.stdout   # no seventh epoch in five
    assert not (tmp_path / "r").exists()


def test_the_composed_figure_refuses_a_spec_naming_no_image(tmp_path: Path) -> None:
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"title": "t", "rows": [{"label": "CONCAT", "images": [
        {"epoch": 1, "path": str(tmp_path / "missing.png")}]}]}))
    res = subprocess.run([sys.executable, "-m", "lfm_plot.gradcam_epochs", str(spec), str(tmp_path / "o.png")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr == f"{spec}: {tmp_path / 'missing.png'}: not a file\n"
    assert not (tmp_path / "o.png").exists()


def test_table1_dry_run_prints_the_papers_plan_for_cremad(tmp_path: Path) -> None:
    root = L.cremad(tmp_path / "cremad")
    res = lfm("reproduce", "table1", "--data", f"cremad={root}", "--out", str(tmp_path / "r"), "--dry-run",
              cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    text = res.stdout
    # the paper's settings (section 4.1) from the shipped recipe
    assert ("encoders audio resnet18, video resnet18; sgd lr 0.01; weight decay 0.0001; schedule plateau; "
            "batch 256; 200 epochs; 3 frames; spectrogram paper") in text
    rows = re.findall(r"^  (\S+(?: \S+)?)\s+\[", text, re.M)
    expected = [r for r in ("Unimodal-1", "Unimodal-2", "Concat", "Affine", "Channel", "ML-LSTM", "Sum", "Weight",
                            "ETMC", "MSES", "G-Blend", "OGM", "Greedy", "DOMFN", "MSLR", "PMR", "AGM", "MLA",
                            "ReconBoost", "MMPareto", "Ours-H", "Ours-LB")]
    assert rows == expected
    assert f"data.root={root} method.name=unimodal method.modality=audio" in text
    assert "66 runs (22 sweeps x 3 seeds), 66 still to run" in text
    assert not (tmp_path / "r").exists()   # a dry run writes nothing


def test_the_builtin_audio_visual_dataset_runs_the_papers_audio_visual_plan(tmp_path: Path) -> None:
    """`--data spoken_fashion`: built in (no folder), every row of table1 with the audio and the
    image alone as Unimodal-1/2, an estimate before any run, and MAP as the second metric, as on
    CREMA-D and Kinetics-Sounds."""
    from lfm_tui.reproduce import experiments
    res = lfm("reproduce", "table1", "--data", "spoken_fashion", "--out", str(tmp_path / "r"), "--dry-run",
              cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    assert ("spoken_fashion (built in): " in res.stdout and "encoders audio resnet18, image cnn; sgd lr 0.01; "
            "weight decay 0.0001; schedule none; batch 64; 10 epochs") in res.stdout
    assert "[unimodal-1] method.name=unimodal method.modality=audio " in res.stdout
    assert "[unimodal-2] method.name=unimodal method.modality=image " in res.stdout
    assert "gated (not in the paper) [gated] method.name=gated " in res.stdout
    assert re.search(r"^69 runs \(23 sweeps x 3 seeds\), 69 still to run; estimate [\d.]+ (min|h) at --jobs 1$",
                     res.stdout, re.M), res.stdout
    assert not (tmp_path / "r").exists()
    assert [experiments.EXPERIMENTS[e].metric_of("spoken_fashion") for e in ("table1", "table3")] == ["map", "map"]
    assert experiments.EXPERIMENTS["table1"].metric_of("emoji") == "f1"
    refused = lfm("reproduce", "table1", "--data", "spoken_fashion=/x", "--dry-run", cwd=tmp_path, timeout=120)
    assert refused.returncode == EXIT_USAGE
    assert refused.stderr == ("--data 'spoken_fashion=/x': spoken_fashion is built in and takes no folder "
                              "(--data spoken_fashion)\n")


@pytest.mark.parametrize("args,message", [
    (["table9"], "EXPERIMENT: expected one of table1, table2, table3, table4, table5, fig2, fig3, fig4, found 'table9'"),
    (["table1", "--data", "cremad"], "--data 'cremad': give the dataset's folder, e.g. --data cremad=data/cremad"),
    (["table1", "--data", "imagenet=/x"], "--data 'imagenet=/x': expected NAME=PATH with NAME one of"),
    (["table1", "--data", "mfeat=/x"], "--data 'mfeat=/x': mfeat is built in and takes no folder (--data mfeat)"),
    (["table4", "--rows", "ours"], "--rows 'ours': expected some of constant-0,"),
    (["table4", "--seeds", "a"], "--seeds 'a': expected non-negative integers"),
    (["fig4", "--data", "mfeat"], "fig4: mfeat has no convolutional encoder (pix: mlp, mor: mlp); Grad-CAM shows "
                                  "the encoders cnn, resnet18, resnet50: give emoji or a dataset of the paper"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    res = lfm("reproduce", *args, "--dry-run", cwd=tmp_path, timeout=120)
    assert res.returncode == EXIT_USAGE, res.stdout + res.stderr
    assert res.stderr.startswith(message) and res.stderr.strip().count("\n") == 0
    assert res.stdout == ""


def test_clips_encoders_on_a_dataset_without_image_and_text_are_refused(tmp_path: Path) -> None:
    """table5 sets CLIP's image and text encoders: on a dataset lacking those modalities its runs
    would be labelled CLIP without CLIP; the recipe check refuses the encoders it cannot use."""
    res = lfm("reproduce", "table5", "--data", "spoken_fashion", "--dry-run", cwd=tmp_path, timeout=120)
    assert res.returncode == EXIT_USAGE and res.stdout == ""
    assert res.stderr.splitlines()[1:] == [
        "  - model.encoders.text: 'spoken_fashion' has modalities audio, image; no 'text' for this encoder to read"]
    res = lfm("reproduce", "table5", "--data", "mfeat", "--dry-run", cwd=tmp_path, timeout=120)
    assert res.returncode == EXIT_USAGE and res.stderr.startswith("mfeat: ") and "2 problems" in res.stderr
    assert [line.split(":")[0] for line in res.stderr.splitlines()[1:]] == ["  - model.encoders.image",
                                                                          "  - model.encoders.text"]


def test_a_bad_override_names_the_dataset_and_every_problem(tmp_path: Path) -> None:
    res = lfm("reproduce", "table4", "--data", "mfeat", "train.epochs=-1", "train.foo=2", "--dry-run", cwd=tmp_path,
              timeout=120)
    assert res.returncode == EXIT_USAGE
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("mfeat: ") and lines[0].endswith("mfeat.toml: 2 problems")
    assert lines[1] == "  - train.epochs: expected a value >= 1, found -1" and lines[2].startswith("  - train.foo: unknown key")


def test_a_dataset_folder_without_its_annotations_is_refused_naming_the_layout(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = lfm("reproduce", "table1", "--data", f"cremad={tmp_path / 'empty'}", "--dry-run", cwd=tmp_path, timeout=120)
    assert res.returncode == EXIT_USAGE
    assert res.stderr.strip() == (f"--data 'cremad={tmp_path / 'empty'}': {tmp_path / 'empty'} holds no cremad "
                                  "annotation files (expected " + L_CREMAD + ")")



def test_resume_takes_the_recorded_request_and_the_dashboard_opens_its_sweeps(tmp_path: Path) -> None:
    from lfm_tui.reproduce import planning

    exp = planning.experiment("table4")
    out = tmp_path / "r"
    rep = planning.build(exp, {"mfeat": ""}, [0, 1], ["train.epochs=1"], out, ["lfm", "reproduce", "table4"],
                         ["ours-h", "ours-lb"])
    planning.write_manifest(rep)
    res = lfm("reproduce", "--resume", str(out), "--dry-run", cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    assert re.findall(r"^  (\S+)\s+\[(\S+)\] (.*)  ->", res.stdout, re.M) == [
        ("Ours-H", "ours-h", "method.name=lfm alpha.strategy=heuristic train.epochs=1"),
        ("Ours-LB", "ours-lb", "method.name=lfm alpha.strategy=learned train.epochs=1")]
    assert "4 runs (2 sweeps x 2 seeds), 4 still to run" in res.stdout
    # a reproduction folder given to the dashboard is its sweep folders
    for s in rep.sweeps:
        s.folder.mkdir(parents=True)
        (s.folder / layout.SWEEP_PLAN).write_text("{}")
    assert planning.with_reproductions([out, tmp_path / "other"]) == [out / "mfeat" / "ours-h",
                                                                       out / "mfeat" / "ours-lb", tmp_path / "other"]
    # --resume with a request of its own is refused
    res = lfm("reproduce", "--resume", str(out), "--seeds", "0", "--dry-run", cwd=tmp_path,
              timeout=120)
    assert res.returncode == EXIT_USAGE and res.stderr.startswith("--resume takes only the reproduction folder")


def test_the_verdict_counts_both_deviations_and_the_gap_is_between_the_parts() -> None:
    from lfm_tui.compare import Run
    from lfm_tui.reproduce import report

    lb = paper.lookup("table1", "Ours-LB", "kinetics_sounds", "acc")          # 72.53 ± 0.31
    assert report.verdict((72.0, 0.25), lb) == "within"                      # |Δ| 0.53 <= 0.31 + 0.25
    assert report.verdict((72.0, 0.2), lb) == "below" and report.verdict((72.9, 0.0), lb) == "above"
    concat = paper.lookup("table1", "Concat", "cremad", "acc")               # 63.31, no std given
    assert report.verdict((63.31, 0.0), concat) == "within" and report.verdict((63.0, 0.3), concat) == "below"
    runs = [Run(Path(f"s{i}"), "ok", i, {"data.modalities": "[audio,video]"},
                {"map": 80.0 + i, "map_audio": 70.0 + i, "map_video": 30.0 + 3 * i}) for i in (0, 1)]
    assert report.values(runs, "map", "gap") == [40.0, 38.0]
    assert report.values(runs, "map", "video") == [30.0, 33.0] and report.values(runs, "map", "fused") == [80.0, 81.0]
    assert report.ours(report.values(runs, "map", "gap")) == (39.0, pytest.approx(1.41421356))


def test_ctrl_c_before_the_runs_start_is_one_line_and_130(monkeypatch) -> None:
    from typer.testing import CliRunner

    from engine.contract.outcome import EXIT_CANCELLED
    from lfm_tui.cli import app
    from lfm_tui.reproduce import planning

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(planning, "build", interrupted)   # Ctrl-C while the plan is validated
    res = CliRunner().invoke(app, ["reproduce", "table4", "--data", "mfeat"])
    assert res.exit_code == EXIT_CANCELLED == 130
    assert res.output.strip() == "interrupted: stopped before the runs started"
