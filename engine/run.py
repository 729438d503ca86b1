"""The engine process: recipe in, run folder and event stream out. One run reads top to
bottom as setup -> train -> test -> cleanup (`EngineRun`), and `main` is argv to exit status.

    setup:   recipe (or the stopped run's recipe and checkpoint), processes, data, model and
             method, then the run folder (so bad input leaves nothing), its sinks (events.jsonl,
             engine.log, TensorBoard), and the trainer around the model
    train:   run_started, the epochs (engine/trainer.py), then the test split once
    finish:  the outcome (engine/outcome.py) into summary.json, run_finished and the exit status
    cleanup: signal handler, sinks and process group released

The event stream is the process's original stdout; at start-up fd 1 is pointed at stderr so a
stray print from the engine or a library can never corrupt it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from engine import layout
from engine import recipe as recipes
from engine.errors import UserError
from engine.events import Emitter
from engine.outcome import EXIT_OK, EXIT_USAGE, Outcome


def event_stream():
    """Keep the real stdout for events; send fd 1 (and sys.stdout) to stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    p.add_argument("recipe", nargs="?", help="recipe TOML file")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=3")
    p.add_argument("--runs-dir", default="runs", help="parent folder of run folders (default: runs)")
    p.add_argument("--run-dir", metavar="FOLDER",
                   help="this exact run folder (new or empty) instead of one under --runs-dir")
    p.add_argument("--resume", metavar="RUN_FOLDER", help="continue a stopped run from its last.pt")
    args = p.parse_args(argv)
    if args.resume and args.run_dir:
        p.error("--resume continues the run in its own folder: --run-dir is not accepted")
    if args.resume and args.recipe and args.recipe.endswith(".toml"):
        p.error("--resume takes the run folder only: the recipe is the one saved in it")
    if args.resume and args.recipe:  # `--resume DIR` given after a stray positional
        args.overrides = [args.recipe, *args.overrides]
        args.recipe = None
    if args.resume and args.overrides:
        p.error("--resume continues a run with its saved recipe: overrides are not accepted")
    if not args.resume and not args.recipe:
        p.error("a recipe file is required (or --resume RUN_FOLDER)")
    return args


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
    try:
        recipe = recipes.load(run_dir / layout.RECIPE)
    except recipes.RecipeError as exc:
        raise UserError(f"{run_dir}/{layout.RECIPE} no longer validates:\n{exc.render()}") from None
    state = ckpt.load(layout.checkpoint(run_dir))
    return recipe, state


class EngineRun:
    """One run of the engine: `setup()`, `train()` (training and the test), `finish(outcome)`,
    `cleanup()`. A new run of `recipe` (a file with `overrides`, or a Recipe) goes into
    `run_dir` (new or empty) or a new folder under `runs_dir`; `resume` continues a stopped run
    in its own folder."""

    def __init__(self, recipe=None, overrides=(), runs_dir: str | Path = "runs", run_dir=None, resume=None,
                 stream=None):
        self.recipe_source, self.overrides = recipe, list(overrides)
        self.runs_dir = Path(runs_dir)
        self.requested_dir = Path(run_dir) if run_dir else None
        self.run_dir = Path(resume) if resume else None
        self.resume_state: dict | None = None
        self.stream = stream
        self.emitter = Emitter([])
        self.dist = self.trainer = self.tb = None
        self.files: list = []
        self.previous_sigint = None
        self.test_result: dict | None = None

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        self._setup_recipe()
        self._setup_dist()
        self._setup_data()
        self._setup_model()
        self._setup_run_folder()
        self._setup_sinks()
        self._setup_trainer()

    def _setup_recipe(self) -> None:
        if self.run_dir is not None:
            self.recipe, self.resume_state = check_run_dir(self.run_dir)
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

    def _setup_run_folder(self) -> None:
        """A new run's folder, made now that the recipe, data and model are known to be good,
        with its resolved recipe and splits; every rank learns rank 0's folder."""
        if self.run_dir is not None:
            return
        run_dir = None
        if self.dist.main:
            if self.requested_dir is not None:
                run_dir = self.requested_dir
                run_dir.mkdir(parents=True, exist_ok=True)
            else:
                try:
                    run_dir = layout.new_run_dir(self.runs_dir, self.recipe.name, self.recipe.train.seed)
                except FileExistsError as exc:
                    raise UserError(str(exc)) from None
            (run_dir / layout.RECIPE).write_text(recipes.dumps(self.recipe), encoding="utf-8")
            (run_dir / layout.SPLITS).write_text(json.dumps(self.data.split_indices()), encoding="utf-8")
        self.run_dir = Path(self.dist.broadcast(str(run_dir) if self.dist.main else None))

    def _setup_sinks(self) -> None:
        """events.jsonl, engine.log and TensorBoard, on rank 0."""
        if not self.dist.main:
            return
        from engine.sinks import TensorBoardSink, flat_hparams, log_writer

        events_file = open(self.run_dir / layout.EVENTS, "a", encoding="utf-8")
        log_file = open(self.run_dir / layout.LOG, "a", encoding="utf-8")
        self.files = [events_file, log_file]
        self.tb = TensorBoardSink(self.run_dir / layout.TENSORBOARD, flat_hparams(recipes.to_dict(self.recipe)))
        self.emitter.streams.append(events_file)
        self.emitter.listeners += [self.tb, log_writer(log_file)]

    def _setup_trainer(self) -> None:
        from engine import setup

        self.trainer = setup.setup_trainer(self.ctx, self.method, self.net, self.autocast, self.run_dir,
                                           self.emitter.emit, self.resume_state)

    # ------------------------------------------------------------------ train and test
    def _on_sigint(self, signum, frame) -> None:
        if not self.trainer.stop_requested:
            self.trainer.stop_requested = True
            if self.dist.main:
                print("stop requested: finishing the current step and writing a checkpoint", file=sys.stderr)

    def train(self) -> Outcome:
        """The remaining epochs, then the test split with the best checkpoint."""
        self.previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        self._announce()
        try:
            if self.trainer.train() != "ok":
                return Outcome("cancelled")
            self.test_result = self.trainer.test()
            return Outcome("ok")
        except UserError as exc:
            return Outcome("failed", str(exc), traceback.format_exc(), user_error=True)
        except Exception as exc:  # a bug or a resource problem: report it, with its traceback
            text = traceback.format_exc()
            print(text, file=sys.stderr)
            return Outcome("failed", f"{type(exc).__name__}: {exc}", text)

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
        if data.skipped:
            shown = "; ".join(data.skipped[:5]) + (" ..." if len(data.skipped) > 5 else "")
            self.emitter.emit("log", level="warning",
                              message=f"skipped {len(data.skipped)} samples with missing or unreadable files "
                                      f"(data.on_missing = \"skip\"): {shown}", skipped=len(data.skipped))

    def finish(self, outcome: Outcome) -> int:
        """summary.json and run_finished (rank 0) for `outcome`; returns its exit status."""
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
        (self.run_dir / layout.SUMMARY).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        self.emitter.emit("run_finished", status=outcome.status, best=tr.best, test=test_summary,
                          error=outcome.error, traceback=outcome.traceback, run_dir=str(self.run_dir),
                          exit_code=outcome.exit_code)
        return outcome.exit_code

    # ------------------------------------------------------------------ cleanup
    def cleanup(self) -> None:
        if self.previous_sigint is not None:
            signal.signal(signal.SIGINT, self.previous_sigint)
            self.previous_sigint = None
        if self.tb is not None:
            self.tb.close()
        for f in self.files:
            f.close()
        self.files, self.tb = [], None
        if self.dist is not None:
            self.dist.close()


def main(argv: list[str] | None = None) -> int:
    stream = event_stream()
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message to stderr
        return EXIT_USAGE if exc.code else EXIT_OK
    run = EngineRun(args.recipe, args.overrides, args.runs_dir, args.run_dir, args.resume, stream)
    try:
        run.setup()
    except (recipes.RecipeError, UserError) as exc:
        run.cleanup()
        print(exc.render() if isinstance(exc, recipes.RecipeError) else f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        code = run.finish(run.train())
    finally:
        run.cleanup()
    if run.dist.enabled:
        # Everything is written and closed: leave without tearing the process group down (see
        # Dist.close), so no rank aborts after a finished run.
        for s in (stream, sys.stderr, sys.__stdout__):
            try:
                s.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code
