"""Figure 4's parts: on each dataset, the weak modality (the paper's, the visual one, on its
datasets; else the one whose split-head test accuracy is the lower under CONCAT, over seeds),
and for each arm the Grad-CAM sheets its run drew after the epochs asked for
(`figures/gradcam/<modality>-epoch<NNN>.png`, review.gradcam_epochs), from the run of the lowest
seed that has them. The composed figure is lfm_plot/gradcam_epochs.py's, from the spec written here."""
from __future__ import annotations

import re
import statistics
from pathlib import Path

from lfm_tui.reproduce.experiments import VISUAL

MAX_EPOCHS = 50     # sheets read per run: Figure 4 shows three


def sheets(run: Path, modality: str) -> list[tuple[int, Path]]:
    """(epoch, sheet) of a run's per-epoch Grad-CAM of `modality`, by epoch."""
    pattern = re.compile(rf"{re.escape(modality)}-epoch(\d{{3,}})\.png")
    folder = Path(run) / "figures" / "gradcam"
    if not folder.is_dir():
        return []
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := pattern.fullmatch(p.name)) and p.is_file())
    return found[:MAX_EPOCHS]


def drawn(run: Path) -> list[str]:
    """The modalities a run drew per-epoch Grad-CAM of."""
    folder = Path(run) / "figures" / "gradcam"
    names = (re.fullmatch(r"(.+)-epoch\d{3,}\.png", p.name) for p in folder.iterdir()) if folder.is_dir() else ()
    return sorted({m.group(1) for m in names if m})


def accuracy(runs, modality: str) -> float | None:
    """Mean split-head test accuracy of `modality` over the runs (compare.Run), None without one."""
    v = [r.test.get(f"acc_{modality}") for r in runs if r.test]
    v = [x for x in v if isinstance(x, float)]
    return statistics.fmean(v) if v else None


def weak_modality(dataset: str, modalities: list[str], baseline_runs) -> tuple[str, str]:
    """(the weak modality, why): the paper's choice on its datasets, else the lower accuracy."""
    if dataset in VISUAL and VISUAL[dataset] in modalities:
        return VISUAL[dataset], "the paper's choice: the visual modality"
    accs = {m: accuracy(baseline_runs, m) for m in modalities}
    known = {m: a for m, a in accs.items() if a is not None}
    if not known:
        return "", "no finished CONCAT run to tell it"
    weak = min(known, key=known.get)
    return weak, ("its split-head test ACC under CONCAT is the lowest: "
                  + ", ".join(f"{m} {a:.2f}" for m, a in known.items()))


def spec(title: str, rows: list[tuple[str, Path]], modality: str) -> dict:
    """The composed figure's spec: a block per row (label, run), an image per epoch drawn."""
    return {"title": title, "rows": [
        {"label": label, "images": [{"epoch": e, "path": str(p.resolve())} for e, p in sheets(run, modality)]}
        for label, run in rows]}


def run_of(runs) -> Path | None:
    """The run of the lowest seed with per-epoch Grad-CAM sheets."""
    for r in sorted(runs, key=lambda r: r.seed):
        if drawn(r.path):
            return r.path
    return None

