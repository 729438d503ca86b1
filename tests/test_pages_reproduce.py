"""The results pages' runs as calls of `lfm reproduce` (benchmarks/alpha_table.py,
make_results.py, fashion_imbalance.py): one call per configuration into a folder of its own, the
page's commands those calls, and the runs read below each folder, whether `lfm reproduce` made
them or `lfm sweep` did before."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pages  # noqa: E402

MFEAT_TEST = {0: {"acc": 90.0, "f1": 89.0, "acc_pix": 80.0, "acc_mor": 40.0, "gap": 40.0},
              1: {"acc": 92.0, "f1": 91.5, "acc_pix": 84.0, "acc_mor": 44.0, "gap": 40.0}}


def finished(run: Path, seed: int, test: dict) -> None:
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"status": "ok", "seed": seed, "method": "lfm", "test": test}))


def test_the_alpha_page_reads_runs_of_either_layout_and_shows_the_reproduce_calls(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # concatenation as lfm sweep made it (runs/<dataset>/<strategy>/seed-N), Ours-H as lfm reproduce
    # makes it (runs/<dataset>/<strategy>/<dataset>/<row>/seed-N)
    (runs / "mfeat" / "concat").mkdir(parents=True)
    (runs / "mfeat" / "concat" / "sweep.json").write_text("{}")
    for seed in (0, 1):
        finished(runs / "mfeat" / "concat" / f"seed-{seed}", seed, MFEAT_TEST[seed])
        finished(runs / "mfeat" / "heuristic" / "mfeat" / "ours-h" / f"seed-{seed}", seed,
                 {**MFEAT_TEST[seed], "acc": MFEAT_TEST[seed]["acc"] + 1.0 + seed})
    (runs / "mfeat" / "heuristic" / "reproduce.json").write_text("{}")
    before = sorted(p for p in runs.rglob("*"))
    page = tmp_path / "alpha.md"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "alpha_table.py"), "--report-only",
                          "--runs", str(runs), "--out", str(page)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(p for p in runs.rglob("*")) == before      # reading the runs writes nothing there
    text = page.read_text()
    section = text.split("### mfeat", 1)[1].split("### fashion", 1)[0]
    assert pages.bash_lines(section) == [
        f"lfm reproduce table1 --data mfeat --rows concat --seeds 0,1,2,3,4 --out {runs}/mfeat/concat train.threads=1",
        f"lfm reproduce table4 --data mfeat --rows constant-0.5 --seeds 0,1,2,3,4 --out {runs}/mfeat/constant-0.5 "
        "train.threads=1",
        f"lfm reproduce table4 --data mfeat --rows ours-h --seeds 0,1,2,3,4 --out {runs}/mfeat/heuristic "
        "train.threads=1",
        f"lfm reproduce table4 --data mfeat --rows ours-lb --seeds 0,1,2,3,4 --out {runs}/mfeat/learned "
        "train.threads=1"]
    head = "| strategy | n | fused ACC | macro-F1 | pix part | mor part | gap | Δ ACC vs concat |"
    rows = pages.table_rows(section, head)
    assert rows["concatenation (no L_MM)"] == ("| concatenation (no L_MM) | 2 | 91.00 ± 1.41 | 90.25 ± 1.77 | "
                                               "82.00 ± 2.83 | 42.00 ± 2.83 | 40.00 ± 0.00 | – |")
    # Ours-H: 91.0 and 94.0; seed by seed 1.0 and 2.0 above concatenation, mean 1.5, standard error 0.5
    assert rows["Ours-H (heuristic)"] == ("| Ours-H (heuristic) | 2 | 92.50 ± 2.12 | 90.25 ± 1.77 | 82.00 ± 2.83 | "
                                          "42.00 ± 2.83 | 40.00 ± 0.00 | +1.50 ± 0.50 |")
    assert rows["constant 0.5"].startswith("| constant 0.5 | 0 | not run |")


@pytest.mark.slow
def test_the_results_page_runs_table1_rows_through_lfm_reproduce(tmp_path: Path, monkeypatch) -> None:
    """make_results.py on mfeat, one seed of one epoch, two of its methods (gated, a row of table1
    on the built-in datasets though not of the paper's table, and lfm, table1's Ours-H)."""
    import make_results

    runs, page = tmp_path / "runs", tmp_path / "results.md"
    monkeypatch.setattr(make_results, "METHODS", "gated,lfm")
    monkeypatch.setattr(sys, "argv", ["make_results.py", "--only", "mfeat", "--seeds", "0", "--runs", str(runs),
                                      "--out", str(page), "train.epochs=1", "train.threads=1"])
    make_results.main()
    manifests = {f: json.loads((runs / "mfeat" / f / "reproduce.json").read_text()) for f in ("unimodal", "methods")}
    assert {f: (m["experiment"], m["rows"], m["seeds"], m["overrides"]) for f, m in manifests.items()} == {
        "unimodal": ("table1", ["unimodal-1", "unimodal-2"], [0], ["train.epochs=1", "train.threads=1"]),
        "methods": ("table1", ["gated", "ours-h"], [0], ["train.epochs=1", "train.threads=1"])}
    text = page.read_text()
    assert "`recipes/mfeat.toml` with train.epochs=1 train.threads=1, test split, best-on-validation checkpoint, " \
           "seeds 0;" in text and "Incomplete" not in text
    assert pages.bash_lines(text) == [
        f"lfm reproduce table1 --data mfeat --rows unimodal-1,unimodal-2 --seeds 0 --out {runs}/mfeat/unimodal "
        "train.epochs=1 train.threads=1",
        f"lfm reproduce table1 --data mfeat --rows gated,ours-h --seeds 0 --out {runs}/mfeat/methods "
        "train.epochs=1 train.threads=1",
        f"lfm compare {runs}/mfeat"]
    head = next(line for line in text.splitlines() if line.startswith("| method | seeds | ACC |"))
    rows = pages.table_rows(text, head)
    assert list(rows) == ["pix alone", "mor alone", "gated", "lfm"]
    folders = {"pix alone": "unimodal/mfeat/unimodal-1", "mor alone": "unimodal/mfeat/unimodal-2",
               "gated": "methods/mfeat/gated", "lfm": "methods/mfeat/ours-h"}
    for label, folder in folders.items():
        test = json.loads((runs / "mfeat" / folder / "seed-0" / "summary.json").read_text())["test"]
        cells = pages.cells(rows[label])
        assert cells[1:4] == ["1", f"{test['acc']:.2f}", f"{test['map']:.2f}"]
    lfm = json.loads((runs / "mfeat" / "methods" / "mfeat" / "ours-h" / "seed-0" / "summary.json").read_text())
    assert lfm["method"] == "lfm" and lfm["alpha_strategy"] == "heuristic"
    best = max(("pix alone", "mor alone"), key=lambda lab: float(pages.cells(rows[lab])[2]))
    assert f"- Best single modality: {best}, {pages.cells(rows[best])[2]} ACC." in text


def test_the_results_page_reports_spoken_fashion_over_five_seeds_beside_the_papers_audio_visual_columns(
        tmp_path: Path, monkeypatch) -> None:
    """The audio-visual benchmark's section: five seeds unless --seeds says otherwise, audio and image
    alone as its unimodal rows, and the paper's Table 1 quoted only for KineticsSounds and CREMA-D
    (its audio-visual datasets). --report-only on no runs: the plan, nothing run."""
    import make_results

    runs, page = tmp_path / "runs", tmp_path / "results.md"
    monkeypatch.setattr(sys, "argv", ["make_results.py", "--only", "spoken_fashion", "--report-only",
                                      "--runs", str(runs), "--out", str(page)])
    make_results.main()
    text = page.read_text()
    assert "## spoken_fashion (audio + image)" in text
    n = len(make_results.METHODS.split(",")) + 2
    assert f"seeds 0,1,2,3,4; generated" in text and f"**Incomplete: 0 of {n * 5} runs finished**" in text
    assert pages.bash_lines(text)[:2] == [
        f"lfm reproduce table1 --data spoken_fashion --rows unimodal-1,unimodal-2 --seeds 0,1,2,3,4 "
        f"--out {runs}/spoken_fashion/unimodal",
        f"lfm reproduce table1 --data spoken_fashion --rows {make_results.METHODS.replace('lfm', 'ours-h')} "
        f"--seeds 0,1,2,3,4 --out {runs}/spoken_fashion/methods"]
    assert not runs.exists()
    # the quoted column: Table 1's KineticsSounds and CREMA-D ACCs (LFM's 69.05 and 72.15)
    assert pages.table1_head(pages.AUDIO_VISUAL) == "Table 1 ACC (KS / CREMA-D)"
    assert pages.table1("lfm", pages.AUDIO_VISUAL) == "69.05 / 72.15"
    assert pages.table1("mmtm") == "63.51 / 66.13 / - / - / 81.54"
    # --seeds still sets every dataset's seeds
    monkeypatch.setattr(sys, "argv", ["make_results.py", "--only", "spoken_fashion", "--report-only", "--seeds", "0",
                                      "--runs", str(runs), "--out", str(page)])
    make_results.main()
    assert "seeds 0; generated" in page.read_text()
