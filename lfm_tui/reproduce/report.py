"""A reproduction's report, OUT/report.md (and printed): the exact command and the versions at
the top; then, per dataset, our mean ± std over seeds beside the paper's number, the difference
and a verdict; the paper's datasets that were not given, with the paper's numbers and "not
given"; for fig3 the alpha series (fig3.json) and fig3.png, drawn by lfm_plot in a child process.
Every number of ours comes from the runs' summary.json (through lfm_tui/compare.py), the paper's
from paper.toml.

Verdict: `within` where |ours - paper| <= the paper's std + ours (0 where not given), else
`below` or `above`.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

from rich.markdown import Markdown

from engine.contract import gaps, writes
from lfm_tui import compare as cmp
from lfm_tui.reproduce import alpha as alphas
from lfm_tui.reproduce import gradcam as cams
from lfm_tui.reproduce import paper
from lfm_tui.reproduce.experiments import ALPHA, GRADCAM, METRICS, MODALITY_GAP, PARTS
from lfm_tui.reproduce.planning import Reproduction, Sweep

REPORT = "report.md"
NAMES = {"acc": "ACC", "map": "MAP", "f1": "F1"}


def versions() -> str:
    """The package, torch (and CUDA, asked of a child process: this one never imports torch)
    and Python."""
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"
    cuda = "unknown"
    try:
        out = subprocess.run([sys.executable, "-c", "import torch; print(torch.version.cuda or 'none', "
                              "torch.cuda.is_available())"], capture_output=True, text=True, timeout=120)
        if out.returncode == 0 and out.stdout.split():
            built, avail = out.stdout.split()[:2]
            cuda = "none (CPU)" if built == "none" else f"{built} ({'a GPU' if avail == 'True' else 'no GPU'} visible)"
    except (OSError, subprocess.SubprocessError):
        pass
    return (f"lfm-console {version('lfm-console')}, torch {version('torch')}, CUDA {cuda}, "
            f"Python {platform.python_version()}")


def _runs(sweep: Sweep) -> list[cmp.Run]:
    try:
        _, runs = cmp.compare([sweep.folder])
    except cmp.CompareError:
        return []
    return [r for r in runs if r.status == "ok" and r.test]


def _modalities(runs: list[cmp.Run]) -> list[str]:
    return [m for m in runs[0].config.get("data.modalities", "[]").strip("[]").split(",") if m] if runs else []


def values(runs: list[cmp.Run], metric: str, part: str) -> list[float]:
    """Ours, one value per seed: the fused metric, a modality's part, the gap between the parts
    (max - min of the metric over the modalities) or the feature gap (engine/contract/gaps.py)."""
    out = []
    for r in runs:
        t = r.test or {}
        if part == "gap":
            parts = [t.get(f"{metric}_{m}") for m in _modalities([r])]
            if len(parts) > 1 and all(isinstance(p, float) for p in parts):
                out.append(max(parts) - min(parts))
        else:
            key = metric if part == "fused" else "modality_gap" if part == "modality_gap" else f"{metric}_{part}"
            if isinstance(t.get(key), float):
                out.append(t[key])
    return out


def ours(v: list[float]) -> tuple[float, float] | None:
    return (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0) if v else None


def verdict(mine: tuple[float, float], theirs: paper.Number) -> str:
    diff = mine[0] - theirs.value
    return "within" if abs(diff) <= (theirs.std or 0.0) + mine[1] else "below" if diff < 0 else "above"


def _fmt(m: tuple[float, float] | None, n: int, digits: int = 2) -> str:
    if m is None:
        return "no finished run"
    return f"{m[0]:.{digits}f}" + (f" ± {m[1]:.{digits}f}" if n > 1 else "") + f" (n={n})"


def cells_of(rep: Reproduction, sweep: Sweep, runs: list[cmp.Run]) -> list[tuple[str, str, str]]:
    """(column, metric, part) of an arm's row on its dataset."""
    exp = rep.experiment
    metric = exp.metric_of(sweep.dataset)
    if exp.report == METRICS:
        return [("ACC", "acc", "fused"), (NAMES[metric], metric, "fused")]
    if exp.report == MODALITY_GAP:
        return [(gaps.feature("test"), "", "modality_gap"), ("ACC", "acc", "fused")]
    mods = _modalities(runs)
    return ([(f"{NAMES[metric]} fused", metric, "fused")] + [(f"{NAMES[metric]} {m}", metric, m) for m in mods]
            + ([(f"{NAMES[metric]} gap", metric, "gap")] if len(mods) > 1 else []))


def dataset_section(rep: Reproduction, dataset: str) -> list[str]:
    exp = rep.experiment
    mine = [s for s in rep.sweeps if s.dataset == dataset]
    root = rep.data[dataset]
    in_paper = dataset in exp.datasets and bool(exp.table)
    head = f"## {dataset} ({root})" if root else f"## {dataset} (built in)"
    lines = [head, ""]
    if not in_paper:
        return lines + ours_only(rep, mine)
    lines += ["| row | column | ours (mean ± std) | paper | Δ | verdict |", "|---|---|---:|---:|---:|---|"]
    for s in mine:
        runs = _runs(s)
        for column, metric, part in cells_of(rep, s, runs):
            v = values(runs, metric, part)
            m = ours(v)
            theirs = paper.lookup(s.arm.table or exp.table, s.arm.row, dataset, metric, part) if in_paper else None
            if theirs is None:
                lines.append(f"| {s.arm.row} | {column} | {_fmt(m, len(v))} | – | – | – |")
                continue
            p = f"{theirs.value:.2f}" + (f" ± {theirs.std:.2f}" if theirs.std is not None else "")
            lines.append(f"| {s.arm.row} | {column} | {_fmt(m, len(v))} | {p} | "
                         + (f"{m[0] - theirs.value:+.2f} | {verdict(m, theirs)} |" if m else "– | – |"))
    return lines + [""]


def ours_only(rep: Reproduction, mine: list[Sweep]) -> list[str]:
    """A dataset the paper reports no number on: one line per row, a column per number."""
    runs = {s.arm.key: _runs(s) for s in mine}
    cols = list(dict.fromkeys(c for s in mine for c in cells_of(rep, s, runs[s.arm.key])))
    lines = [f"The paper reports no number on {mine[0].dataset}: ours alone, mean ± std over seeds (n runs).", "",
             "| row | " + " | ".join(c for c, _, _ in cols) + " |", "|---|" + "---:|" * len(cols)]
    for s in mine:
        got = [(values(runs[s.arm.key], metric, part), 3 if part == "modality_gap" else 2) for _, metric, part in cols]
        lines.append(f"| {s.arm.row} | " + " | ".join(_fmt(ours(v), len(v), d) if v else "–" for v, d in got) + " |")
    return lines + [""]


def not_given(rep: Reproduction) -> list[str]:
    """The paper's numbers on its datasets of this experiment that were not given."""
    exp = rep.experiment
    missing = [d for d in exp.datasets if d not in rep.data]
    if not missing:
        return []
    if not exp.table:
        return [f"Not given: {', '.join(missing)} (the paper's figure shows them).", ""]
    lines = ["## The paper's datasets not given", "",
             "| row | column | " + " | ".join(missing) + " |", "|---|---|" + "---:|" * len(missing)]
    for arm in exp.arms:
        table = arm.table or exp.table
        cols = list(dict.fromkeys(n.column for d in missing for n in paper.cells(table, arm.row, d)))
        for column in cols:   # one column heading: ACC, MAP or F1 by dataset, as the paper's tables
            got = [next((n for n in paper.cells(table, arm.row, d) if n.column == column), None) for d in missing]
            lines.append(f"| {arm.row} | {column} | " + " | ".join(
                f"not given (paper {n.value:.2f})" if n else "–" for n in got) + " |")
    return lines + [""]


def fig3(rep: Reproduction, console) -> list[str]:
    data = {d: alphas.series([r.path for s in rep.sweeps if s.dataset == d for r in _runs(s)])
            for d in rep.data}
    writes.write_atomic(rep.out / "fig3.json", json.dumps(data, indent=1) + "\n")
    lines = []
    for d, pts in data.items():
        lines += [f"## {d}: alpha over training", "", *alphas.markdown(d, pts), ""]
    code = plot("lfm_plot.alpha_fraction", rep.out / "fig3.json", rep.out / "fig3.png")
    lines.append("![alpha over training](fig3.png)" if code == 0 else f"fig3.png not drawn (exit status {code}).")
    return lines + [""]


def plot(module: str, source: Path, png: Path) -> int:
    """An lfm_plot figure drawn in a child process (the console does not import matplotlib):
    its exit status."""
    env = dict(os.environ)
    home = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
    return subprocess.call([sys.executable, "-m", module, str(source), str(png)], env=env)


def fig4(rep: Reproduction, dataset: str) -> list[str]:
    """A dataset's Grad-CAM of the weak modality at the epochs drawn, each arm's three side by
    side in fig4-<dataset>.png (and its spec fig4-<dataset>.json)."""
    mine = [s for s in rep.sweeps if s.dataset == dataset]
    runs = {s.arm.key: _runs(s) for s in mine}
    mods = _modalities([r for v in runs.values() for r in v])
    weak, why = cams.weak_modality(dataset, mods, runs.get("concat", []))
    chosen = [(s.arm.row, cams.run_of(runs[s.arm.key])) for s in mine]
    chosen = [(row, run) for row, run in chosen if run is not None]
    root = rep.data[dataset]
    lines = [f"## {dataset} ({root})" if root else f"## {dataset} (built in)", ""]
    if not chosen:
        return lines + ["No finished run with Grad-CAM figures yet.", ""]
    can = sorted(set.intersection(*(set(cams.drawn(run)) for _, run in chosen)))
    shown = weak if weak in can else min(can, key=lambda m: cams.accuracy(runs.get("concat", []), m) or 0.0,
                                         default="")
    lines.append(f"The weak modality: {weak or 'unknown'} ({why})." + (
        "" if shown == weak else f" Grad-CAM shows the convolutional encoders only: shown, {shown or 'none'}."))
    if not shown:
        return lines + [""]
    spec = cams.spec(f"{dataset}: Grad-CAM of {shown}", [(f"{row} (seed {run.name.removeprefix('seed-')})", run)
                                                          for row, run in chosen], shown)
    lines += ["", "| row | run | epochs drawn |", "|---|---|---|"]
    lines += [f"| {r['label']} | {run.relative_to(rep.out)} | {', '.join(str(i['epoch']) for i in r['images'])} |"
              for r, (_, run) in zip(spec["rows"], chosen)]
    name = f"fig4-{dataset}"
    writes.write_atomic(rep.out / f"{name}.json", json.dumps(spec, indent=1) + "\n")
    code = plot("lfm_plot.gradcam_epochs", rep.out / f"{name}.json", rep.out / f"{name}.png")
    lines += ["", f"![Grad-CAM of {shown}, the epochs side by side per method]({name}.png)" if code == 0
              else f"{name}.png not drawn (exit status {code})."]
    return lines + [""]


def render(rep: Reproduction, console=None) -> str:
    exp = rep.experiment
    command = shlex.join(rep.command) if rep.command else f"lfm reproduce {exp.name}"
    lines = [f"# {exp.name}: {exp.title}", "", f"Command: `{command}`", "", f"Versions: {versions()}", "",
             f"Seeds: {', '.join(map(str, rep.seeds))}. Overrides: {' '.join(rep.overrides) or 'none'}. "
             f"Every run's folder is below {rep.out} (one sweep per dataset and row: `lfm compare`, "
             "`lfm plot` and `lfm sweep --status` read them).", ""]
    if exp.report in (METRICS, PARTS):
        lines += ["Verdict: `within` where |ours − paper| ≤ the paper's std + ours (a std not given counts 0), "
                  "else `below` or `above`.", ""]
    if exp.report == ALPHA:
        lines += fig3(rep, console)
    elif exp.report == GRADCAM:
        lines += ["Grad-CAM of each row's run (the lowest seed) after the epochs drawn, on the same test samples "
                  "(one per class) each time; left to right, epoch by epoch.", ""]
        for d in rep.data:
            lines += fig4(rep, d)
    else:
        for d in rep.data:
            lines += dataset_section(rep, d)
    lines += not_given(rep)
    return "\n".join(lines)


def write(rep: Reproduction, console) -> Path:
    text = render(rep, console)
    path = rep.out / REPORT
    writes.write_atomic(path, text + "\n")
    console.print(Markdown(text))
    console.print(f"report       {path}")
    return path

