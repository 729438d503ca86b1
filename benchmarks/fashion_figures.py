"""Regenerates the figures of the fashion imbalance benchmark (docs/fashion.md) with `lfm plot`,
from the runs benchmarks/fashion_imbalance.py leaves in runs/fashion-benchmark/<configuration>/:

    docs/figures/fashion_curves.png   alpha and validation ACC (fused, thumb, noisy) by epoch: LFM
                                      (heuristic, learned alpha), concatenation, a few baselines
    docs/figures/fashion_bars.png     test ACC, fused and per view, of every configuration

each beside a JSON file of the numbers drawn. Only finished runs count; a configuration without
one yet is left out (and named), so the figures can be drawn while the benchmark still runs.

    python benchmarks/fashion_figures.py [--runs runs/fashion-benchmark] [--out docs/figures]
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


def plot(runs: Path, have: dict[Path, str], out: Path, figure: str, dpi: int) -> None:
    """`lfm plot` run in `runs`, so the JSON files beside the figures name runs relative to it."""
    cmd = [sys.executable, "-c", "from lfm_tui.cli import main; main()", "plot", "--out", str(out.resolve()),
           "--figures", figure, "--prefix", "fashion_", "--dpi", str(dpi),
           *(f"--label={p}={text}" for p, text in have.items()), "--", *map(str, have)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    code = subprocess.call(cmd, cwd=runs, env=env)
    if code != 0:
        sys.exit(f"lfm plot exited with status {code}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "fashion-benchmark")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    p.add_argument("--dpi", type=int, default=110)
    a = p.parse_args()
    for figure, names in (("curves", CURVES), ("bars", CONFIGS)):
        have, missing = folders(a.runs, names)
        if missing:
            print(f"{figure}: no finished run yet in {', '.join(missing)} (under {a.runs}); left out")
        if not have:
            sys.exit(f"{a.runs}: no finished run of {', '.join(names)}; run benchmarks/fashion_imbalance.py first")
        plot(a.runs, have, a.out, figure, a.dpi)


if __name__ == "__main__":
    main()
