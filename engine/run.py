"""The engine process: recipe in, run folder and event stream out. One run reads top to
bottom as setup -> train -> test -> cleanup (`EngineRun`), and `main` is argv to exit status.

    setup:   recipe (or the stopped run's recipe and checkpoint), processes, data, model and
             method, then the run folder (so bad input leaves nothing), its sinks (events.jsonl,
             engine.log, TensorBoard), and the trainer around the model
    train:   run_started, the epochs (engine/trainer.py), then the test split once
    finish:  the outcome (engine/outcome.py) into summary.json, run_finished and the exit status
    cleanup: sinks, process group and the run folder's lock released

The run folder is locked (engine/layout.py) while this process writes to it; every file is
written whole or not at all, and one that cannot be (a full disk) ends the run with one message,
exit status 1, and `--resume` continues it once there is space. Arguments, signals, the event
stream and leaving the process: engine/process.py.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from pathlib import Path

from engine import layout
from engine import recipe as recipes
from engine.errors import Diverged, UserError
from engine.events import Emitter
from engine.outcome import (EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, Outcome, is_write_failure,
                            write_failure)
from engine.process import Signals, StoppedEarly, Terminated, event_stream, launch_rank, leave, parse_args


def check_run_dir(run_dir: Path) -> tuple[recipes.Recipe, dict]:
    """A stopped run's recipe and last checkpoint, or a UserError saying what is wrong."""
    from engine import checkpoint as ckpt

    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a folder")
    if not layout.is_run(run_dir):
        raise UserError(f"{run_dir}: not a run folder (expected {layout.RECIPE}, {layout.EVENTS} and "
                        f"{layout.CHECKPOINTS}/{layout.LAST})")
    if layout.finished(run_dir):
        raise UserError(f"{run_dir}: this run already finished; start a new run instead")
    layout.refuse_link(run_dir / layout.CHECKPOINTS)  # its checkpoints are written there again
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
        self.dist = self.trainer = self.tb = self.review = None
        self.files: list = []
        self.test_result: dict | None = None
        self.lock: layout.FolderLock | None = None
        self.notes: list[str] = []   # logged once the sinks are open
        self.signals = signals or Signals()
        self.signals.on_stop = self._on_stop

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """A stop asked for before the run folder is written ends the process with nothing
        written; once it is, the run stops after its first step, with a checkpoint."""
        for step in (self._setup_recipe, self._setup_dist, self._setup_data, self._setup_model,
                     self._setup_run_folder):
            if self.signals.requested:
                raise StoppedEarly()
            step()
        self._setup_sinks()
        self._setup_trainer()

    def _setup_recipe(self) -> None:
        if self.run_dir is not None:
            if launch_rank() == 0 and layout.is_run(self.run_dir):  # the folder's writer: rank 0
                self._lock(self.run_dir)
            self.recipe, self.resume_state = check_run_dir(self.run_dir)
            if launch_rank() == 0:
                from engine import checkpoint as ckpt

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
        from engine import dist

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
            self.lock = layout.FolderLock(folder).acquire()
        except layout.FolderInUse as exc:
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
            except (FileExistsError, ValueError, layout.FolderInUse) as exc:
                raise UserError(str(exc)) from None
        self.run_dir = Path(self.dist.broadcast(str(run_dir) if self.dist.main else None))

    def _setup_sinks(self) -> None:
        """events.jsonl, engine.log and TensorBoard, on rank 0."""
        if not self.dist.main:
            return
        from engine.hparams import run_hparams
        from engine.sinks import TensorBoardSink, jsonl_writer, log_writer

        self.files = [layout.open_append(self.run_dir / layout.EVENTS), layout.open_append(self.run_dir / layout.LOG)]
        done = (self.resume_state or {}).get("global_step")  # a resumed run redraws what followed its checkpoint
        purge = done + 1 if isinstance(done, int) and not isinstance(done, bool) else None
        self.tb = TensorBoardSink(layout.tensorboard_dir(self.run_dir), run_hparams(recipes.to_dict(self.recipe)),
                                  recipes.dumps(self.recipe), purge_step=purge)
        # the file copy of the stream fails loudly (a full disk stops the run); a client pipe that
        # went away is dropped by the emitter
        self.emitter.listeners += [jsonl_writer(self.files[0]), self.tb, log_writer(self.files[1])]
        from engine.review import Review  # review figures (recipe [review]): the periodic gap listens last

        self.review = Review(self.ctx, self.run_dir, self.emitter.emit)
        self.emitter.listeners.append(self.review.on_event)

    def _setup_trainer(self) -> None:
        from engine import setup

        self.trainer = setup.setup_trainer(self.ctx, self.method, self.net, self.autocast, self.run_dir,
                                           self.emitter.emit, self.resume_state,
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
            self._announce()
            if self.trainer.train() != "ok":
                return Outcome("cancelled")
            self.test_result = self.trainer.test()
            if self.review is not None:  # rank 0, on the weights just tested (best.pt)
                self.review.final(self.trainer.best_epoch)
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

    def _announce(self) -> None:
        tr, data, recipe = self.trainer, self.data, self.recipe
        self.emitter.emit(
            "run_started", run_id=f"{recipe.name}/{self.run_dir.name}", recipe=recipes.to_dict(recipe),
            recipe_name=recipe.name, dataset=recipe.data.name, modalities=list(data.modalities),
            run_dir=str(self.run_dir), epochs=recipe.train.epochs, steps_per_epoch=tr.steps_per_epoch,
            resumed_from=({"epoch": tr.epoch, "step": tr.step_in_epoch} if self.resume_state else None),
            split_sizes={k: len(data.split(k)) for k in ("train", "val", "test")},
            classes=data.class_names, skipped_samples=len(data.skipped), pid=os.getpid(),
            world_size=self.dist.world)
        for note in data.notes:
            self.emitter.emit("log", level="info", message=note)
        for note in self.notes:
            self.emitter.emit("log", level="warning", message=note)
        if data.skipped:
            shown = "; ".join(data.skipped[:5]) + (" ..." if len(data.skipped) > 5 else "")
            self.emitter.emit("log", level="warning",
                              message=f"skipped {len(data.skipped)} samples with missing or unreadable files "
                                      f"(data.on_missing = \"skip\"): {shown}", skipped=len(data.skipped))

    def finish(self, outcome: Outcome) -> int:
        """summary.json and run_finished (rank 0) for `outcome`; returns its exit status."""
        self.signals.shielded = True  # a SIGTERM now waits until the outcome is written
        if not self.dist.main:
            if outcome.user_error:
                print(f"error: {outcome.error}", file=sys.stderr)
            return outcome.exit_code
        test = self.test_result if outcome.status == "ok" else None
        test_summary = None
        if test is not None:
            test_summary = {**test["fused"], "loss": test["loss"], "gap": test["gap"],
                            "modality_gap": test["modality_gap"],
                            **{f"{k}_{m}": v for m, mm in test["modalities"].items() for k, v in mm.items()}}
        tr, recipe = self.trainer, self.recipe
        summary = {"status": outcome.status, "recipe_name": recipe.name, "dataset": recipe.data.name,
                   "modalities": list(self.data.modalities), "seed": recipe.train.seed,
                   "method": recipe.method.name, "alpha_strategy": recipe.alpha.strategy,
                   "epochs_done": tr.epoch - 1, "best": tr.best, "test": test_summary, "error": outcome.error}
        try:
            layout.write_atomic(self.run_dir / layout.SUMMARY, json.dumps(summary, indent=2))
        except OSError as exc:  # the run's result stays unwritten: --resume tests it again
            outcome = Outcome("failed", write_failure(exc, self._resumable()))
        try:
            self.emitter.emit("run_finished", status=outcome.status, best=tr.best, test=test_summary,
                              error=outcome.error, traceback=outcome.traceback, run_dir=str(self.run_dir),
                              exit_code=outcome.exit_code)
        except OSError:
            pass  # the client has the event (stdout goes first); the file copy lacks it
        if outcome.status == "failed" and not outcome.traceback:
            print(f"error: {outcome.error}", file=sys.stderr)
        return outcome.exit_code

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> None:
        """Everything released, whatever state the run is in; nothing here raises."""
        self.signals.shielded = True
        closers = [x.close for x in (self.tb, self.review) if x is not None] + [f.close for f in self.files]
        for close in closers:
            with contextlib.suppress(Exception):
                close()  # a full disk may refuse the last flush: what was written stays
        self.files, self.tb, self.review = [], None, None
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
