"""Regenerates the review figures shown in docs/fashion.md: the modality gap (the LFM paper's
Fig. 2) of plain concatenation and of LFM on `fashion`, and Grad-CAM (Fig. 4) of the image
encoder of `emoji` (fashion's encoders are MLPs, which Grad-CAM does not apply to). Each is one
run of the recipe as shipped (seed 0) through `lfm run`, whose review writes the figures into
its run folder; they are copied to docs/figures/:

    fashion_gap_concat.png, fashion_gap_lfm.png   figures/gap.png of recipes/fashion_concat.toml
                                                  and recipes/fashion.toml
    emoji_gradcam.png                             figures/gradcam/image.png of recipes/emoji.toml

    nice -n 10 python benchmarks/review_figures.py [--runs runs/review-figures] [--only fashion] [KEY=VALUE ...]

KEY=VALUE overrides go to every `lfm run` (e.g. train.threads=1: about 7 minutes on one core for
the three). A run folder that finished already is reused (remove --runs to train again).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.contract import layout  # noqa: E402

# (name, recipe, figure in the run folder, file in docs/figures)
FIGURES = [
    ("fashion", "recipes/fashion_concat.toml", "figures/gap.png", "fashion_gap_concat.png"),
    ("fashion", "recipes/fashion.toml", "figures/gap.png", "fashion_gap_lfm.png"),
    ("emoji", "recipes/emoji.toml", "figures/gradcam/image.png", "emoji_gradcam.png"),
]


def run_folder(runs: Path, recipe: str, overrides: list[str]) -> Path:
    """The finished run of `recipe` under `runs`, trained first (with `overrides`) when there is none."""
    out = runs / Path(recipe).stem
    done = [r for r in layout.runs_below(out) if layout.finished(r)] if out.is_dir() else []
    if not done:
        code = subprocess.call([sys.executable, "-c", "from lfm_tui.cli import main; main()", "run", recipe,
                                *overrides, "--runs-dir", str(out)], cwd=ROOT)
        if code != 0:
            sys.exit(f"lfm run {recipe} exited with status {code}")
        done = [r for r in layout.runs_below(out) if layout.finished(r)]
    return done[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "review-figures")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    p.add_argument("--only", choices=("fashion", "emoji"))
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides for lfm run, e.g. train.threads=1")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for name, recipe, figure, target in FIGURES:
        if a.only and a.only != name:
            continue
        src = run_folder(a.runs, recipe, a.overrides) / figure
        if not src.is_file():
            sys.exit(f"{src}: the run wrote no such figure (see its engine.log)")
        shutil.copyfile(src, a.out / target)
        print(f"wrote {a.out / target} (from {src})")


if __name__ == "__main__":
    main()
