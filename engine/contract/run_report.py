"""What a run reports of itself, on rank 0: at its start, `run_started` and the notes of its data
and of its resumption; at its end, summary.json (status, best, test metrics) and `run_finished`.
The run's lifecycle is engine/run.py; the outcome and its exit status engine/contract/outcome.py."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from engine.contract import events, layout, writes
from engine.contract import recipe as recipes
from engine.contract.outcome import Outcome, write_failure


def announce(report, recipe: recipes.Recipe, data, trainer, run_dir: Path, resumed: bool,
             world_size: int, notes: list[str]) -> None:
    """run_started, then the data's notes, the run's own (`notes`: warnings) and the skipped samples."""
    tr = trainer
    report.run_started(events.RunStarted(run_name=f"{recipe.name}/{run_dir.name}", recipe=recipes.to_dict(recipe),
         recipe_name=recipe.name, dataset=recipe.data.name, modalities=list(data.modalities),
         run_dir=str(run_dir), epochs=recipe.train.epochs, steps_per_epoch=tr.steps_per_epoch,
         resumed_from=({"epoch": tr.epoch, "step": tr.step_in_epoch} if resumed else None),
         split_sizes={k: len(data.split(k)) for k in ("train", "val", "test")},
         classes=data.class_names, skipped_samples=len(data.skipped), pid=os.getpid(),
         world_size=world_size))
    for note in data.notes:
        report.log(events.Log(level="info", message=note))
    for note in notes:
        report.log(events.Log(level="warning", message=note))
    if data.skipped:
        shown = "; ".join(data.skipped[:5]) + (" ..." if len(data.skipped) > 5 else "")
        report.log(events.Log(level="warning",
             message=f"skipped {len(data.skipped)} samples with missing or unreadable files "
                     f"(data.on_missing = \"skip\"): {shown}", skipped=len(data.skipped)))


def test_summary(test: dict | None) -> dict | None:
    """The test split's numbers as summary.json holds them: fused metrics, loss, gaps, and each
    modality's metrics as `<metric>_<modality>`."""
    if test is None:
        return None
    return {**test["fused"], "loss": test["loss"], "gap": test["gap"], "modality_gap": test["modality_gap"],
            **{f"{k}_{m}": v for m, mm in test["modalities"].items() for k, v in mm.items()}}


def record(outcome: Outcome, report, recipe: recipes.Recipe, modalities, trainer, test: dict | None,
           run_dir: Path, resumable: Callable[[], Path | None]) -> Outcome:
    """summary.json and run_finished for `outcome`; the outcome reported, which is a failed one
    where summary.json cannot be written (the run's result stays unwritten: --resume tests it
    again; `resumable()` names the folder where a checkpoint lets it)."""
    tests = test_summary(test if outcome.status == "ok" else None)
    summary = {"status": outcome.status, "recipe_name": recipe.name, "dataset": recipe.data.name,
               "modalities": list(modalities), "seed": recipe.train.seed,
               "method": recipe.method.name, "alpha_strategy": recipe.alpha.strategy,
               "epochs_done": trainer.epoch - 1, "best": trainer.best, "test": tests, "error": outcome.error}
    try:
        writes.write_atomic(run_dir / layout.SUMMARY, json.dumps(summary, indent=2))
    except OSError as exc:
        outcome = Outcome("failed", write_failure(exc, resumable()))
    try:
        report.finish(events.RunFinished(status=outcome.status, best=trainer.best, test=tests, error=outcome.error,
             traceback=outcome.traceback, run_dir=str(run_dir), exit_code=outcome.exit_code))
    except OSError:
        pass  # the client has the event (stdout goes first); the file copy lacks it
    return outcome
