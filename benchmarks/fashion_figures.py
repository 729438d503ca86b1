"""Regenerates the figures of the fashion imbalance benchmark (docs/fashion.md) with `lfm plot`,
from the runs benchmarks/fashion_imbalance.py leaves in runs/fashion-benchmark/<configuration>/:

    docs/figures/fashion_curves.png   alpha and validation ACC (fused, thumb, noisy) by epoch: LFM
                                      (heuristic, learned alpha), concatenation, a few baselines
    docs/figures/fashion_bars.png     test ACC, fused and per view, of every configuration

each beside a JSON file of the numbers drawn, in the paper style (`lfm plot --style paper`: two
columns wide, 8-point type, Okabe-Ito colours) as PNG at 150 dpi, about 1000 pixels wide. Only
finished runs count; a configuration without one yet is left out (and named), so the figures can
be drawn while the benchmark still runs. --redraw draws both figures again from those JSON files
(`lfm plot --from`), without the runs: the current figure code on the numbers last drawn.

    python benchmarks/fashion_figures.py [--runs runs/fashion-benchmark] [--out docs/figures] [--redraw]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.contract import layout  # noqa: E402  (after the path: run from anywhere)

# every configuration of the benchmark (benchmarks/fashion_imbalance.py) and its row's label
# (the baselines' sweeps are labelled by their method)
LABELS = {"thumb": "thumb alone", "noisy": "noisy alone", "concat": "concat", "heuristic": "LFM, heuristic alpha",
          "learned": "LFM, learned alpha", "constant": "LFM, alpha = 0.5"}
CONFIGS = (*LABELS, "baselines")
# the curves: LFM's two alphas against concatenation and the gradient-modulation baselines
CURVES = ("concat", "heuristic", "learned", "baselines/ogm_ge", "baselines/agm", "baselines/mla")


def finished(folder: Path) -> bool:
    return folder.is_dir() and any(layout.finished(r) for r in layout.runs_below(folder))


def baselines(runs: Path) -> dict[str, Path]:
    """method -> its finished runs' folder under runs/baselines: the row's sweep of the
    `lfm reproduce` call (baselines/fashion/<method>), or the grid point of an `lfm sweep` made
    before (baselines/method.name=<method>)."""
    made = [(p.name, p) for p in sorted((runs / "baselines" / "fashion").glob("*"))]
    made += [(p.name.partition("=")[2], p) for p in sorted((runs / "baselines").glob("method.name=*"))]
    return {name: p.relative_to(runs) for name, p in made if finished(p)}


def folders(runs: Path, names: tuple[str, ...]) -> tuple[dict[Path, str], list[str]]:
    """(folder under `runs` -> its label, for every configuration among `names` with a finished
    run; the names without one). `baselines`: every method's folder; `baselines/<method>`: one."""
    have, missing, base = {}, [], baselines(runs)
    for name in names:
        if name == "baselines":
            got = {p: method for method, p in base.items()}
        elif name.startswith("baselines/"):
            method = name.partition("/")[2]
            got = {base[method]: method} if method in base else {}
        else:
            got = {Path(name): LABELS[name]} if finished(runs / name) else {}
        have.update(got)
        missing += [] if got else [name]
    return have, missing


def lfm_plot(args: list[str], cwd: Path, dpi: int) -> None:
    """`lfm plot --style paper --format png` with `args`, run in `cwd`."""
    cmd = [sys.executable, "-c", "from lfm_tui.cli import main; main()", "plot", "--style", "paper", "--format", "png",
           "--dpi", str(dpi), *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    code = subprocess.call(cmd, cwd=cwd, env=env)
    if code != 0:
        sys.exit(f"lfm plot exited with status {code}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "fashion-benchmark")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    p.add_argument("--dpi", type=int, default=150)
    p.add_argument("--redraw", action="store_true", help="draw the figures again from the JSON files in --out")
    a = p.parse_args()
    if a.redraw:
        for figure in ("curves", "bars"):
            lfm_plot(["--from", str((a.out / f"fashion_{figure}.json").resolve())], ROOT, a.dpi)
        return
    for figure, names in (("curves", CURVES), ("bars", CONFIGS)):
        have, missing = folders(a.runs, names)
        if missing:
            print(f"{figure}: no finished run yet in {', '.join(missing)} (under {a.runs}); left out")
        if not have:
            sys.exit(f"{a.runs}: no finished run of {', '.join(names)}; run benchmarks/fashion_imbalance.py first")
        # run in the runs' folder, so the JSON files beside the figures name runs relative to it
        lfm_plot(["--out", str(a.out.resolve()), "--figures", figure, "--prefix", "fashion_", *labels(a.runs, have),
                  "--", *have], a.runs, a.dpi)


if __name__ == "__main__":
    main()
