"""What a run writes in its folder besides the client's stream, on rank 0: events.jsonl (a copy of
the stream), and its callbacks TensorBoard, engine.log and the review figures (recipe [review]),
called in that order at each lifecycle point. Opened once the run folder exists; closed whatever
state the run is in."""
from __future__ import annotations

import contextlib
from pathlib import Path

from engine.contract import layout, writes
from engine.contract import recipe as recipes
from engine.training.callbacks import Report


class RunSinks:
    def __init__(self) -> None:
        self.files: list = []
        self.tb = self.review = None

    def open(self, run_dir: Path, recipe: recipes.Recipe, resume_state: dict | None, ctx, report: Report) -> None:
        """events.jsonl added to `report`'s emitter as a file, the callbacks to its callbacks. The
        file copy of the stream fails loudly (a full disk stops the run); a client pipe that went
        away is dropped by the emitter."""
        from engine.contract.hparams import run_hparams
        from engine.review.sinks import EngineLog, TensorBoardSink

        self.files = [writes.open_append(run_dir / layout.EVENTS), writes.open_append(run_dir / layout.LOG)]
        done = (resume_state or {}).get("global_step")  # a resumed run redraws what followed its checkpoint
        purge = done + 1 if isinstance(done, int) and not isinstance(done, bool) else None
        self.tb = TensorBoardSink(layout.tensorboard_dir(run_dir), run_hparams(recipes.to_dict(recipe)),
                                  recipes.dumps(recipe), purge_step=purge)
        from engine.review.figures import Review  # the periodic gap comes last

        self.review = Review(ctx, run_dir, report)
        report.emitter.files.append(self.files[0])
        report.callbacks += [self.tb, EngineLog(self.files[1]), self.review]

    def close(self) -> None:
        """Every sink closed; nothing here raises (a full disk may refuse the last flush: what was
        written stays)."""
        closers = [x.close for x in (self.tb, self.review) if x is not None] + [f.close for f in self.files]
        for close in closers:
            with contextlib.suppress(Exception):
                close()
        self.files, self.tb, self.review = [], None, None
