"""The engine process: recipe in, run folder and event stream out.

The event stream is the process's original stdout; at start-up fd 1 is pointed at stderr so a
stray print from the engine or a library can never corrupt it.

Exit status: 0 finished, 130 cancelled (SIGINT: the current step ends, `last.pt` is written),
1 failed, 2 the user's input is wrong (recipe, run folder, checkpoint, data).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from engine import recipe as recipes
from engine.errors import UserError
from engine.events import Emitter

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


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


def new_run_dir(runs_dir: Path, name: str, seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = runs_dir / name
    for n in range(1000):
        path = base / (f"{stamp}-{seed}" if n == 0 else f"{stamp}-{seed}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise UserError(f"{base}: could not create a new run folder")


def check_run_dir(run_dir: Path) -> tuple[recipes.Recipe, dict]:
    """A stopped run's recipe and last checkpoint, or a UserError saying what is wrong."""
    from engine import checkpoint as ckpt

    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a folder")
    if not (run_dir / "recipe.toml").is_file() or not (run_dir / "events.jsonl").is_file():
        raise UserError(f"{run_dir}: not a run folder (expected recipe.toml, events.jsonl and "
                        f"checkpoints/last.pt)")
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            status = json.loads(summary.read_text()).get("status")
        except (json.JSONDecodeError, OSError):
            status = None
        if status == "ok":
            raise UserError(f"{run_dir}: this run already finished; start a new run instead")
    try:
        recipe = recipes.load(run_dir / "recipe.toml")
    except recipes.RecipeError as exc:
        raise UserError(f"{run_dir}/recipe.toml no longer validates:\n{exc.render()}") from None
    state = ckpt.load(run_dir / "checkpoints" / "last.pt")
    return recipe, state


def main(argv: list[str] | None = None) -> int:
    stream = event_stream()
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message to stderr
        return EXIT_USAGE if exc.code else EXIT_OK

    trainer = None
    try:
        if args.resume:
            run_dir = Path(args.resume)
            recipe, state = check_run_dir(run_dir)
        else:
            recipe, state, run_dir = recipes.load(args.recipe, args.overrides), None, None
            if args.run_dir and Path(args.run_dir).exists() and (
                    not Path(args.run_dir).is_dir() or any(Path(args.run_dir).iterdir())):
                raise UserError(f"{args.run_dir}: --run-dir must be a new or empty folder")
        from engine import dist as distributed
        from engine.trainer import Trainer

        dist = distributed.init(recipe.train.device)
        emitter = Emitter([stream] if dist.main else [])  # events from rank 0 only
        trainer = Trainer(recipe, run_dir or Path("."), emitter, resume_state=state, dist=dist)
        trainer.setup()  # data and model before any folder is made: bad input leaves nothing
    except recipes.RecipeError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    if run_dir is None:
        if dist.main:
            if args.run_dir:
                run_dir = Path(args.run_dir)
                run_dir.mkdir(parents=True, exist_ok=True)
            else:
                run_dir = new_run_dir(Path(args.runs_dir), recipe.name, recipe.train.seed)
            (run_dir / "recipe.toml").write_text(recipes.dumps(recipe), encoding="utf-8")
            (run_dir / "splits.json").write_text(json.dumps(trainer.data.split_indices()), encoding="utf-8")
        run_dir = Path(dist.broadcast(str(run_dir) if dist.main else None))
        trainer.run_dir = run_dir
    try:
        code = run(trainer, emitter, run_dir, resumed=state is not None)
    finally:
        dist.close()
    if dist.enabled:
        # Everything is written and closed: leave without tearing the process group down (see
        # Dist.close), so no rank aborts after a finished run.
        for s in (stream, sys.stderr, sys.__stdout__):
            try:
                s.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


def run(trainer, emitter: Emitter, run_dir: Path, resumed: bool) -> int:
    from engine.sinks import TensorBoardSink, flat_hparams
    from engine.recipe import to_dict

    recipe = trainer.recipe
    if not trainer.dist.main:
        return run_worker(trainer)
    events_file = open(run_dir / "events.jsonl", "a", encoding="utf-8")
    log_file = open(run_dir / "engine.log", "a", encoding="utf-8")
    tb = TensorBoardSink(run_dir / "tb", flat_hparams(to_dict(recipe)))
    emitter.streams.append(events_file)

    def log_listener(ev) -> None:
        if ev.type == "log":
            log_file.write(f"{time.strftime('%H:%M:%S')} {ev['level']}: {ev['message']}\n")
        elif ev.type == "run_finished":
            log_file.write(f"{time.strftime('%H:%M:%S')} finished: {ev['status']}\n")
            if ev.get("traceback"):
                log_file.write(ev["traceback"])
        log_file.flush()

    emitter.listeners += [tb, log_listener]

    def on_sigint(signum, frame):
        if not trainer.stop_requested:
            trainer.stop_requested = True
            print("stop requested: finishing the current step and writing a checkpoint", file=sys.stderr)

    previous_handler = signal.signal(signal.SIGINT, on_sigint)
    emitter.emit("run_started", run_id=f"{recipe.name}/{run_dir.name}", recipe=to_dict(recipe),
                 recipe_name=recipe.name, dataset=recipe.data.name, modalities=list(trainer.data.modalities),
                 run_dir=str(run_dir), epochs=recipe.train.epochs, steps_per_epoch=trainer.steps_per_epoch,
                 resumed_from=({"epoch": trainer.epoch, "step": trainer.step_in_epoch} if resumed else None),
                 split_sizes={k: len(trainer.data.split(k)) for k in ("train", "val", "test")},
                 classes=trainer.data.class_names, skipped_samples=len(trainer.data.skipped),
                 pid=os.getpid(), world_size=trainer.dist.world)
    for note in trainer.data.notes:
        emitter.emit("log", level="info", message=note)
    if trainer.data.skipped:
        shown = "; ".join(trainer.data.skipped[:5]) + (" ..." if len(trainer.data.skipped) > 5 else "")
        emitter.emit("log", level="warning",
                     message=f"skipped {len(trainer.data.skipped)} samples with missing or unreadable files "
                             f"(data.on_missing = \"skip\"): {shown}", skipped=len(trainer.data.skipped))
    code, status, test, error, tb_text = EXIT_OK, "ok", None, None, None
    try:
        status = trainer.train()
        if status == "ok":
            test = trainer.test()
        else:
            code = EXIT_CANCELLED
    except UserError as exc:
        code, status, error = EXIT_USAGE, "failed", str(exc)
        tb_text = traceback.format_exc()
    except Exception as exc:  # a bug or a resource problem: report it, with its traceback
        code, status, error = EXIT_FAILED, "failed", f"{type(exc).__name__}: {exc}"
        tb_text = traceback.format_exc()
        print(tb_text, file=sys.stderr)
    test_summary = None
    if test is not None:
        test_summary = {**test["fused"], "loss": test["loss"], "gap": test["gap"],
                        "modality_gap": test["modality_gap"],
                        **{f"{k}_{m}": v for m, mm in test["modalities"].items() for k, v in mm.items()}}
    summary = {"status": status, "recipe_name": recipe.name, "dataset": recipe.data.name,
               "modalities": list(trainer.data.modalities), "seed": recipe.train.seed,
               "method": recipe.method.name,
               "alpha_strategy": recipe.alpha.strategy, "epochs_done": trainer.epoch - 1,
               "best": trainer.best, "test": test_summary, "error": error}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    emitter.emit("run_finished", status=status, best=trainer.best, test=test_summary, error=error,
                 traceback=tb_text, run_dir=str(run_dir), exit_code=code)
    signal.signal(signal.SIGINT, previous_handler)
    tb.close()
    events_file.close()
    log_file.close()
    return code


def run_worker(trainer) -> int:
    """A rank other than 0: trains its share and takes part in every collective; writes nothing."""
    def on_sigint(signum, frame):
        trainer.stop_requested = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        status = trainer.train()
        if status == "ok":
            trainer.test()
        return EXIT_OK if status == "ok" else EXIT_CANCELLED
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        signal.signal(signal.SIGINT, previous)
