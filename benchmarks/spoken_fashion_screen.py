"""The symptom check of docs/audio-visual.md from finished runs of spoken_fashion: audio alone,
image alone and plain concatenation of the same seeds, and the late-fusion ensemble of the two
single-modality runs (engine.ensemble). Prints a line per seed and the mean over the seeds.

    python benchmarks/spoken_fashion_screen.py RUNS      # RUNS/{audio,image,concat}-<seed>/...

Each RUNS/<recipe>-<seed> folder holds one run (what `lfm run ... --runs-dir` writes). Columns:
test accuracy (%) of audio alone, image alone, the concatenation (fused, its audio part, its
image part: a modality's block of the classifier with half the bias), the ensemble (mean of
probabilities), the validation accuracy after epoch 1 and 3 of audio and image alone, and after
epoch 3 of the concatenation's audio and image parts (how fast each learns).
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from engine.ensemble import ensemble


def run_dir(folder: Path) -> Path:
    found = [p.parent for p in folder.rglob("summary.json")]
    if len(found) != 1:
        raise SystemExit(f"{folder}: expected one finished run, found {len(found)}")
    return found[0]


def val_curve(run: Path, modality: str | None = None) -> list[float]:
    """Validation accuracy after each epoch: fused, or a modality's part."""
    out = []
    for line in (run / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e.get("type") == "eval" and e.get("split") == "val":
            out.append(e["modalities"][modality]["acc"] if modality else e["fused"]["acc"])
    return out


def main(root: Path) -> None:
    seeds = sorted(int(p.name.split("-")[1]) for p in root.glob("concat-*")
                   if all(any((root / f"{k}-{p.name.split('-')[1]}").rglob("summary.json"))
                          for k in ("audio", "image", "concat")))  # seeds whose three runs finished
    cols = ["audio", "image", "concat", "c.audio", "c.image", "ensemble", "a@1", "a@3", "i@1", "i@3", "c.a@3", "c.i@3"]
    print("seed " + " ".join(f"{c:>8}" for c in cols))
    table = []
    for s in seeds:
        runs = {k: run_dir(root / f"{k}-{s}") for k in ("audio", "image", "concat")}
        summ = {k: json.loads((r / "summary.json").read_text()) for k, r in runs.items()}
        ens = ensemble([runs["audio"], runs["image"]])
        a, i = val_curve(runs["audio"]), val_curve(runs["image"])
        row = [summ["audio"]["test"]["acc"], summ["image"]["test"]["acc"], summ["concat"]["test"]["acc"],
               summ["concat"]["test"]["acc_audio"], summ["concat"]["test"]["acc_image"],
               ens["ensemble"]["acc"], a[0], a[2], i[0], i[2], val_curve(runs["concat"], "audio")[2],
               val_curve(runs["concat"], "image")[2]]
        table.append(row)
        print(f"{s:>4} " + " ".join(f"{v:8.1f}" for v in row))
    if len(table) > 1:
        print("mean " + " ".join(f"{statistics.mean(c):8.1f}" for c in zip(*table)))
        diffs = {"c.image - image": [r[4] - r[1] for r in table], "concat - ensemble": [r[2] - r[5] for r in table]}
        for k, v in diffs.items():
            print(f"{k}: {statistics.mean(v):+.1f} ± {statistics.stdev(v) / len(v) ** 0.5:.1f} (mean ± s.e., "
                  f"{len(v)} seeds)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
