"""A reproduction run: its sweeps, one after another, through the sweep runner (lfm_tui/sweep.py,
so `--jobs`, Ray and Slurm execute the runs of each, and a sweep folder that exists is resumed:
finished runs skipped, stopped ones continued); then the report. And what `--dry-run` prints:
the runs, their count and an estimate of their time.

The estimate takes the seconds an epoch costs from the reproduction's finished runs of the same
dataset where there are any, else from the built-in datasets' measured cost on two CPU cores
(EPOCH_SECONDS); a dataset of the paper with no finished run has no estimate until one ends.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from rich.text import Text

from engine.contract import events as ev
from engine.contract import layout
from engine.contract.run_state import RunState
from engine.contract.outcome import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from lfm_tui import plan as plans
from lfm_tui import sweep as sweeps
from lfm_tui.reproduce import planning, report
from lfm_tui.reproduce.planning import Reproduction, Sweep

# seconds of one training epoch (validation included) with the shipped recipes, measured with two
# runs at once on a two-core machine that other work shared (spoken_fashion: concatenation, two
# runs at once and nothing else); a run also costs STARTUP_SECONDS (the process and the engine's
# start, the data, the test)
EPOCH_SECONDS = {"emoji": 8.0, "mfeat": 1.0, "fashion": 11.5, "spoken_fashion": 5.5}
STARTUP_SECONDS = 40.0
LEARNED_FACTOR = 1.5      # a learned alpha's hypergradient: an epoch about 1.5 times as long (mfeat)
MEASURED_RUNS = 20        # finished runs read per dataset for its measured epoch time


def run_folders(sweep: Sweep, seeds: list[int]) -> list[Path]:
    return [sweep.folder / f"seed-{s}" for s in seeds]


def epoch_seconds(run: Path) -> float | None:
    """A finished run's seconds per epoch: between its first and last validation (the setup
    and the test left out); a run of one epoch: its first to last event."""
    summary = layout.read_summary(run)
    if not summary or summary.get("status") != "ok":
        return None
    try:
        events = ev.read_events(str(run / layout.EVENTS))
    except (OSError, ev.ProtocolError):
        return None
    state = RunState(history=0)
    for e in events:
        state.apply(e)
    val = state.val_times
    if len(val) > 1:
        rate = (max(val) - min(val)) / (len(val) - 1)
    elif len(events) > 1:
        rate = events[-1].time - events[0].time
    else:
        return None
    learned = summary.get("method") == "lfm" and summary.get("alpha_strategy") == "learned"
    return rate / (LEARNED_FACTOR if learned else 1.0)


def measured_epoch_seconds(out: Path, dataset: str) -> float | None:
    """Mean seconds per epoch of the finished runs under OUT/<dataset> (a learned alpha's
    counted without its hypergradient), or None where none has finished."""
    if not (out / dataset).is_dir():
        return None
    rates = []
    for run in layout.runs_below(out / dataset):
        rate = epoch_seconds(run)
        if rate is not None:
            rates.append(rate)
        if len(rates) >= MEASURED_RUNS:
            break
    return statistics.fmean(rates) if rates else None


def estimate(rep: Reproduction) -> tuple[float, list[str], int]:
    """(seconds of the runs still to do, datasets without an estimate, runs still to do)."""
    seconds, unknown, todo = 0.0, [], 0
    per_epoch = {d: measured_epoch_seconds(rep.out, d) or EPOCH_SECONDS.get(d) for d in rep.data}
    for s in rep.sweeps:
        left = sum(layout.run_state(f) != "done" for f in run_folders(s, rep.seeds))
        todo += left
        rate = per_epoch[s.dataset]
        if rate is None:
            if s.dataset not in unknown:
                unknown.append(s.dataset)
            continue
        factor = LEARNED_FACTOR if "alpha.strategy=learned" in s.overrides else 1.0
        seconds += left * (STARTUP_SECONDS + s.epochs * rate * factor)
    return seconds, unknown, todo


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def print_plan(rep: Reproduction, console, jobs: int = 1) -> None:
    """The runs, sweep by sweep, their count and the estimate (--dry-run)."""
    exp = rep.experiment
    console.print(Text(f"{exp.name}: {exp.title}", style="bold"), soft_wrap=True)
    for dataset in rep.data:
        mine = [s for s in rep.sweeps if s.dataset == dataset]
        if not mine:
            continue
        console.print(Text(f"\n{dataset} ({rep.data[dataset] or 'built in'}): {mine[0].recipe}, "
                           f"{settings(mine[0])}"), soft_wrap=True)
        for s in mine:
            state = "started" if planning.sweep_started(s) else "new"
            console.print(Text(f"  {s.arm.row:<18} [{s.arm.key}] {' '.join(s.overrides)}  -> {s.folder} ({state})"),
                          soft_wrap=True)
    seconds, unknown, todo = estimate(rep)
    runs = len(rep.sweeps) * len(rep.seeds)
    line = f"\n{runs} runs ({len(rep.sweeps)} sweeps x {len(rep.seeds)} seeds), {todo} still to run; "
    known = len(unknown) < len(rep.data)
    line += f"estimate {duration(seconds / max(1, jobs))} at --jobs {jobs}" if known else "no estimate"
    if unknown:
        line += (f"{' plus' if known else ':'} the runs on {', '.join(unknown)} (no finished run there to time "
                 "yet: the estimate follows once one has run)")
    console.print(Text(line), soft_wrap=True)


def settings(s: Sweep) -> str:
    """The resolved recipe's main settings (the paper's section 4.1 on its datasets)."""
    c = plans.validated(s.recipe, list(s.overrides), [], [0])[0].config
    enc = ", ".join(f"{k.split('.')[2]} {v}" for k, v in c.items()
                    if k.startswith("model.encoders.") and k.endswith(".kind")
                    and k.split(".")[2] in c.get("data.modalities", ""))
    parts = [f"encoders {enc}", f"{c.get('optim.name')} lr {c.get('optim.lr')}",
             f"weight decay {c.get('optim.weight_decay')}", f"schedule {c.get('schedule.name', 'none')}",
             f"batch {c.get('data.batch_size')}", f"{c.get('train.epochs')} epochs"]
    if c.get("data.frames", "0") != "0":
        parts.append(f"{c['data.frames']} frames")
    if s.dataset in ("cremad", "kinetics_sounds", "vggsound"):
        parts.append(f"spectrogram {c.get('data.spectrogram')}")
    return "; ".join(parts)


def execute(rep: Reproduction, console, options, raw_events: bool = False) -> int:
    """Runs (or continues) every sweep, then writes and prints the report. Exit status: 130
    when stopped (what ran is kept; the same command continues), 2 for bad input, 1 when a run
    failed (the other sweeps still run), else 0."""
    planning.write_manifest(rep)
    seeds = ",".join(map(str, rep.seeds))
    failed = False
    for i, s in enumerate(rep.sweeps, 1):
        console.print(Text(f"[{i}/{len(rep.sweeps)}] {s.dataset}: {s.arm.row}", style="bold"), soft_wrap=True)
        if planning.sweep_started(s):
            code = sweeps.run(s.folder, raw_events, console, options)
        else:
            code = sweeps.start(s.folder, s.recipe, list(s.overrides), [], seeds, rep.command, raw_events,
                                console, options)
        if code in (EXIT_CANCELLED, EXIT_USAGE):
            if code == EXIT_CANCELLED:
                console.print(Text(f"stopped: continue with lfm reproduce --resume {rep.out}", style="yellow"))
            return code
        failed |= code != EXIT_OK
    report.write(rep, console)
    return EXIT_FAILED if failed else EXIT_OK
