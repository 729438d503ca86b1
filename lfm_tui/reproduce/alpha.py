"""Figure 3's numbers: the alpha a run trained with in each epoch (the last `step` event of the
epoch), over the fraction of training (epoch / epochs), mean and std over seeds, beside the
heuristic omega(t) = 1 - exp(-1/t) at the same epoch. Read from events.jsonl (untrusted: lines
that are not well-formed events are skipped)."""
from __future__ import annotations

import math
import statistics
from pathlib import Path

from engine.contract import events as ev
from engine.contract import layout
from engine.contract.run_state import RunState


def omega(t: int) -> float:
    """The paper's heuristic integration strategy (Ours-H) at epoch t, t from 1."""
    return 1.0 - math.exp(-1.0 / t)


def run_alpha(run: Path) -> tuple[int, dict[int, float]]:
    """(the run's planned epochs, epoch -> alpha in that epoch)."""
    try:
        events = ev.read_events(str(Path(run) / layout.EVENTS))
    except (OSError, ev.ProtocolError):
        return 0, {}
    state = RunState(history=0)
    for e in events:
        state.apply(e)
    return state.epochs, {t: float(a) for t, a in state.alpha_by_epoch.items()}


def series(runs: list[Path]) -> list[dict]:
    """One point per epoch reached by any run: fraction, epoch, alpha mean, std (None with one
    run), runs counted, omega(epoch)."""
    table: dict[int, list[float]] = {}
    total = 0
    for run in runs:
        epochs, by_epoch = run_alpha(run)
        total = max(total, epochs)
        for t, a in by_epoch.items():
            table.setdefault(t, []).append(a)
    return [{"fraction": round(t / total, 6) if total else 0.0, "epoch": t, "alpha": statistics.fmean(v),
             "std": statistics.stdev(v) if len(v) > 1 else None, "runs": len(v), "omega": omega(t)}
            for t, v in sorted(table.items())]


def markdown(dataset: str, points: list[dict]) -> list[str]:
    lines = [f"| fraction of training | epoch | learned alpha (mean ± std) | heuristic ω(t) |", "|---:|---:|---:|---:|"]
    for p in points:
        std = "" if p["std"] is None else f" ± {p['std']:.3f}"
        lines.append(f"| {p['fraction']:.2f} | {p['epoch']} | {p['alpha']:.3f}{std} | {p['omega']:.3f} |")
    return lines if points else [f"No alpha recorded on {dataset} yet."]
