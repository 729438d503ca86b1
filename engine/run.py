"""The engine process: recipe in, run folder and event stream out. One run reads top to
bottom as setup -> train -> test -> cleanup (`EngineRun`), and `main` is argv to exit status.

    setup:   recipe (or the stopped run's recipe and checkpoint), processes, data, model and
             method, then the run folder (so bad input leaves nothing), its sinks (events.jsonl,
             engine.log, TensorBoard: engine/review/run_sinks.py), and the trainer around the model
    train:   run_started (engine/contract/run_report.py), the epochs (engine/training/trainer.py), then the test
             split once
    finish:  the outcome (engine/contract/outcome.py) into summary.json and run_finished
             (engine/contract/run_report.py), and the exit status
    cleanup: sinks, process group and the run folder's lock released

The run folder is locked (engine/contract/folder_lock.py) while this process writes to it; every file is
written whole or not at all, and one that cannot be (a full disk) ends the run with one message,
exit status 1, and `--resume` continues it once there is space. Arguments, signals, the event
stream and leaving the process: engine/runtime/process.py.
"""
from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from engine.contract import layout, progress, run_report
from engine.contract import recipe as recipes
from engine.contract.errors import Diverged, UserError
from engine.contract.emitter import Emitter
from engine.contract.events import Preparing
from engine.contract.folder_lock import FolderInUse, FolderLock
from engine.contract.outcome import (EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, Outcome, is_write_failure,
                            write_failure)
from engine.runtime.process import Signals, StoppedEarly, Terminated, event_stream, launch_rank, leave, parse_args
from engine.review.run_sinks import RunSinks
from engine.training.callbacks import Report
from engine.contract.writes import refuse_link


def check_run_dir(run_dir: Path) -> tuple[recipes.Recipe, dict]:
    """A stopped run's recipe and last checkpoint, or a UserError saying what is wrong."""
    from engine.training import checkpoint as ckpt
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a folder")
    if not layout.is_run(run_dir):
        raise UserError(f"{run_dir}: not a run folder (expected {layout.RECIPE}, {layout.EVENTS} and "
                        f"{layout.CHECKPOINTS}/{layout.LAST})")
    if layout.finished(run_dir):
        raise UserError(f"{run_dir}: this run already finished; start a new run instead")
    refuse_link(run_dir / layout.CHECKPOINTS)  # its checkpoints are written there again
    try:
        recipe = recipes.load(run_dir / layout.RECIPE)
    except recipes.RecipeError as exc:
        raise UserError(f"{run_dir}/{layout.RECIPE} no longer validates:\n{exc.render()}") from None
    state = ckpt.load(layout.checkpoint(run_dir))
    problem = ckpt.counters_problem(state, recipe.train.epochs)
    if problem:
        raise UserError(f"{layout.checkpoint(run_dir)}: {problem}: the checkpoint is damaged or belongs to another run")
    changed = ckpt.recipe_changes(recipes.to_dict(recipe), state)
    if changed:
        raise UserError(f"{run_dir}/{layout.RECIPE} was changed after the run: " + "; ".join(changed[:5])
                        + f" (in {layout.CHECKPOINTS}/{layout.LAST}); put the run's values back, or start a new run")
    return recipe, state


class EngineRun:
    """One run of the engine: `setup()`, `train()` (training and the test), `finish(outcome)`,
    `cleanup()`. A new run of `recipe` (a file with `overrides`, or a Recipe) goes into
    `run_dir` (new or empty) or a new folder under `runs_dir`; `resume` continues a stopped run
    in its own folder."""

    def __init__(self, recipe=None, overrides=(), runs_dir: str | Path = "runs", run_dir=None, resume=None,
                 stream=None, signals: Signals | None = None):
        self.recipe_source, self.overrides = recipe, list(overrides)
        self.runs_dir = Path(runs_dir)
        self.requested_dir = Path(run_dir) if run_dir else None
        self.run_dir = Path(resume) if resume else None
        self.resume_state: dict | None = None
        self.stream = stream
        self.emitter = Emitter([])
        self.report = Report(self.emitter)  # the events, then the run's callbacks (engine/training/callbacks.py)
        self.dist = self.trainer = None
        self.sinks = RunSinks()
        self.test_result: dict | None = None
        self.lock: FolderLock | None = None
        self.notes: list[str] = []   # logged once the sinks are open
        self.signals = signals or Signals()
        self.signals.on_stop = self._on_stop

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """A stop asked for before the run folder is written ends the process with nothing
        written; once it is, the run stops after its first step, with a checkpoint."""
        with progress.reporting(self._preparing):
            for step in (self._setup_recipe, self._setup_dist, self._setup_data, self._setup_model,
                         self._setup_run_folder):
                if self.signals.requested:
                    raise StoppedEarly()
                step()
        self._setup_sinks()
        self._setup_trainer()

    def _preparing(self, what: str, done: int, total: int | None, unit: str, cache: str) -> None:
        """A `preparing` event on the engine's stream (rank 0's): slow preparation, before run_started."""
        if self.emitter.streams:
            self.emitter.emit(Preparing(what=what, done=done, total=total, unit=unit, cache=cache or None))

    def _setup_recipe(self) -> None:
        if self.run_dir is not None:
            if launch_rank() == 0 and layout.is_run(self.run_dir):  # the folder's writer: rank 0
                self._lock(self.run_dir)
            self.recipe, self.resume_state = check_run_dir(self.run_dir)
            if launch_rank() == 0:
                from engine.training import checkpoint as ckpt
                layout.remove_temporaries(self.run_dir)
                note = ckpt.reconcile(self.run_dir, self.resume_state)
                self.notes += [note] if note else []
            return
        src = self.recipe_source
        self.recipe = src if isinstance(src, recipes.Recipe) else recipes.load(src, self.overrides)
        d = self.requested_dir
        if d is not None and d.exists() and (not d.is_dir() or any(d.iterdir())):
            raise UserError(f"{d}: --run-dir must be a new or empty folder")

    def _setup_dist(self) -> None:
        from engine.runtime import dist
        self.dist = dist.init(self.recipe.train.device)
        if self.dist.main and self.stream is not None:
            self.emitter.streams.append(self.stream)  # events from rank 0 only

    def _setup_data(self) -> None:
        from engine import setup
        self.data = setup.load_data(self.recipe)

    def _setup_model(self) -> None:
        from engine import setup
        self.ctx, self.method, self.net, self.autocast = setup.build_parts(self.recipe, self.data, self.dist)

    def _lock(self, folder: Path) -> None:
        try:
            self.lock = FolderLock(folder).acquire()
        except FolderInUse as exc:
            raise UserError(str(exc)) from None

    def _setup_run_folder(self) -> None:
        """A new run's folder, made now that the recipe, data and model are known to be good,
        locked, with its resolved recipe and splits (nothing of it is left if they cannot be
        written); every rank learns rank 0's folder."""
        if self.run_dir is not None:
            return
        run_dir = None
        if self.dist.main:
            files = {layout.RECIPE: recipes.dumps(self.recipe), layout.SPLITS: json.dumps(self.data.split_indices())}
            try:
                run_dir, self.lock = layout.create_run_folder(self.requested_dir, self.runs_dir, self.recipe.name,
                                                              self.recipe.train.seed, files)
            except (FileExistsError, ValueError, FolderInUse) as exc:
                raise UserError(str(exc)) from None
        self.run_dir = Path(self.dist.broadcast(str(run_dir) if self.dist.main else None))

    def _setup_sinks(self) -> None:
        """events.jsonl, engine.log, TensorBoard and the review figures, on rank 0 (engine/review/run_sinks.py)."""
        if self.dist.main:
            self.sinks.open(self.run_dir, self.recipe, self.resume_state, self.ctx, self.report)

    def _setup_trainer(self) -> None:
        from engine import setup
        self.trainer = setup.setup_trainer(self.ctx, self.method, self.net, self.autocast, self.run_dir,
                                           self.report, self.resume_state,
                                           source=str(layout.checkpoint(self.run_dir)))
        self.trainer.stop_requested = self.signals.requested

    # ------------------------------------------------------------------ train and test
    def _on_stop(self) -> None:
        if self.trainer is not None:
            self.trainer.stop_requested = True
            if self.dist.main:
                print("stop requested: finishing the current step and writing a checkpoint", file=sys.stderr)

    def train(self) -> Outcome:
        """The remaining epochs, then the test split with the best checkpoint."""
        try:
            run_report.announce(self.report, self.recipe, self.data, self.trainer, self.run_dir,
                                bool(self.resume_state), self.dist.world, self.notes)
            if self.trainer.train() != "ok":
                return Outcome("cancelled")
            self.test_result = self.trainer.test()
            if self.sinks.review is not None:  # rank 0, on the weights just tested (best.pt)
                self.sinks.review.final(self.trainer.best_epoch)
            return Outcome("ok")
        except Terminated:
            return Outcome("cancelled", "terminated (SIGTERM): stopped at once; the run continues from its last "
                                        "checkpoint")
        except UserError as exc:
            return Outcome("failed", str(exc), traceback.format_exc(), user_error=True)
        except Diverged as exc:  # a failed run, not a bug: one message
            return Outcome("failed", str(exc))
        except OSError as exc:
            if self.written_by_run(exc):  # a full disk, a quota: one message, no traceback
                return Outcome("failed", write_failure(exc, self._resumable()))
            return self._bug(exc)
        except Exception as exc:
            return self._bug(exc)

    def _bug(self, exc: Exception) -> Outcome:
        """A bug or a resource problem: reported with its traceback."""
        text = traceback.format_exc()
        print(text, file=sys.stderr)
        return Outcome("failed", f"{type(exc).__name__}: {exc}", text)

    def _resumable(self) -> Path | None:  # the folder, where a checkpoint lets --resume continue it
        return self.run_dir if self.run_dir and layout.checkpoint(self.run_dir).is_file() else None

    def written_by_run(self, exc: OSError) -> bool:  # a write of the run's files failed, or the disk is full
        return is_write_failure(exc, self.run_dir, self.requested_dir, self.runs_dir)

    def finish(self, outcome: Outcome) -> int:
        """summary.json and run_finished (rank 0) for `outcome`; returns its exit status."""
        self.signals.shielded = True  # a SIGTERM now waits until the outcome is written
        if not self.dist.main:
            if outcome.user_error:
                print(f"error: {outcome.error}", file=sys.stderr)
            return outcome.exit_code
        outcome = run_report.record(outcome, self.report, self.recipe, self.data.modalities, self.trainer,
                                    self.test_result, self.run_dir, self._resumable)
        if outcome.status == "failed" and not outcome.traceback:
            print(f"error: {outcome.error}", file=sys.stderr)
        return outcome.exit_code

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> None:
        """Everything released, whatever state the run is in; nothing here raises."""
        self.signals.shielded = True
        self.sinks.close()
        if self.dist is not None:
            self.dist.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def main(argv: list[str] | None = None) -> int:
    signals = Signals().install()  # first of all: a Ctrl-C from here on is a stop request
    stream = event_stream()
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message to stderr
        return EXIT_USAGE if exc.code else EXIT_OK
    run = EngineRun(args.recipe, args.overrides, args.runs_dir, args.run_dir, args.resume, stream, signals)
    code = None
    try:
        run.setup()
    except (StoppedEarly, Terminated):
        print("stopped before the run started: nothing was written", file=sys.stderr)
        code = EXIT_CANCELLED
    except (recipes.RecipeError, UserError) as exc:
        print(exc.render() if isinstance(exc, recipes.RecipeError) else f"error: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except OSError as exc:
        if not run.written_by_run(exc):
            raise
        print(f"error: {write_failure(exc, run.run_dir if run.resume_state is not None else None)}",
              file=sys.stderr)
        code = EXIT_FAILED
    if code is None:
        try:
            code = run.finish(run.train())
        finally:
            run.cleanup()
    else:
        run.cleanup()
    distributed = run.dist is not None and run.dist.enabled
    return leave(code, distributed, stream)
