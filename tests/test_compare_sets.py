"""Compare what can be compared: runs tested on different datasets or different test splits are
refused with one line naming them (exit status 2), by `lfm compare` and the dashboard alike; and
the table written to a file keeps each row on one line."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from lfm_tui import compare
from lfm_tui.app import make_app
from tests.tui_helpers import ROOT, fake, reads_done, until

LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]


def finished_run(folder: Path, dataset: str, seed: int, acc: float, test: list[int] | None = None,
                 split_seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text(
        f'name = "{dataset}"\n[data]\nname = "{dataset}"\nmodalities = ["pix", "mor"]\nsplit_seed = {split_seed}\n'
        f'[method]\nname = "lfm"\n[train]\nseed = {seed}\nepochs = 3\n')
    (folder / "events.jsonl").write_text("")
    (folder / "summary.json").write_text(json.dumps(
        {"status": "ok", "test": {"acc": acc, "map": acc + 1, "f1": acc - 1, "acc_pix": acc - 10,
                                  "acc_mor": acc - 40, "gap": 30.0}}))
    if test is not None:
        (folder / "splits.json").write_text(json.dumps({"train": [0, 1], "val": [2], "test": test}))
    return folder


def lfm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([*LFM, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**env, "PYTHONPATH": str(ROOT)})


def test_compare_refuses_runs_of_different_datasets_in_one_line(tmp_path: Path) -> None:
    a = finished_run(tmp_path / "runs" / "mfeat" / "a", "mfeat", 0, 98.0, test=[3, 4])
    b = finished_run(tmp_path / "runs" / "emoji" / "b", "emoji", 0, 61.0, test=[3, 4])
    res = lfm("compare", str(a), str(b), cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = (res.stdout + res.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert "different datasets" in lines[0]
    assert f"mfeat: {a}" in lines[0] and f"emoji: {b}" in lines[0]


def test_compare_refuses_one_dataset_split_two_ways_and_takes_one_split(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    same = [finished_run(runs / f"s{n}", "mfeat", n, 90.0 + n, test=[5, 6, 7]) for n in range(2)]
    other = finished_run(runs / "x", "mfeat", 2, 99.0, test=[5, 6, 8])
    rows, found = compare.compare(same)  # one test set: compared
    assert [r.seeds for r in rows] == [[0, 1]] and len(found) == 2
    try:
        compare.compare([*same, other])
    except compare.CompareError as exc:
        text = str(exc)
    else:
        raise AssertionError("runs of two test splits were compared")
    assert "different test splits" in text and "(test split 1)" in text and f"(test split 2): {other}" in text
    # without splits.json, the recipe keys that make the split decide
    c = finished_run(runs / "c", "mfeat", 0, 90.0, split_seed=0)
    d = finished_run(runs / "d", "mfeat", 1, 91.0, split_seed=1)
    e = finished_run(runs / "e", "mfeat", 2, 92.0, split_seed=0)
    assert len(compare.compare([c, e])[0]) == 1
    try:
        compare.compare([c, d])
    except compare.CompareError as exc:
        assert "split_seed=0" not in str(exc) and f"{c}" in str(exc) and f"{d}" in str(exc)
    else:
        raise AssertionError("runs of two split seeds were compared")


def test_compare_written_to_a_file_keeps_every_row_on_one_line(tmp_path: Path) -> None:
    accs = (98.0, 98.4, 98.11)  # mean 98.17 ± 0.2
    for n, acc in enumerate(accs):
        finished_run(tmp_path / "runs" / f"r{n}", "mfeat", n, acc, test=[1, 2])
    out = tmp_path / "table.txt"
    with out.open("w") as fh:  # stdout a file, no COLUMNS: a console would fall back to 80 columns
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        code = subprocess.call([*LFM, "compare", str(tmp_path / "runs"), "--title", "t"], cwd=tmp_path,
                               stdout=fh, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert code == 0
    text = out.read_text()
    row = next(l for l in text.splitlines() if "lfm" in l)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["lfm", "3", "98.17 ± 0.21", "99.17 ± 0.21", "97.17 ± 0.21", "88.17 ± 0.21",
                     "58.17 ± 0.21", "30.00 ± 0.00"]
    assert len(row) > 80
    assert sum("±" in l for l in text.splitlines()) == 1  # no cell went on to a second line


def test_dashboard_compare_refuses_runs_of_different_datasets(tmp_path: Path) -> None:
    a = finished_run(tmp_path / "runs" / "mfeat" / "a", "mfeat", 0, 98.0, test=[3, 4])
    b = finished_run(tmp_path / "runs" / "emoji" / "b", "emoji", 0, 61.0, test=[3, 4])
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", command=fake("replay"),
                   cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)
            screen = app.screen
            app.compare([a, b])
            await until(pilot, lambda: any("cannot be compared" in str(n.message) for n in app._notifications),
                        what="the refusal")
            await reads_done(pilot)
            assert app.screen is screen  # no compare screen
            note = next(str(n.message) for n in app._notifications if "cannot be compared" in str(n.message))
            assert f"mfeat: {a}" in note and f"emoji: {b}" in note
    asyncio.run(scenario())
