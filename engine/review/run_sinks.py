"""Where a run's events go besides the client's stream, on rank 0: events.jsonl, engine.log and
TensorBoard in the run folder, then the review figures (recipe [review]), which listen last.
Opened once the run folder exists; closed whatever state the run is in."""
from __future__ import annotations

import contextlib
from pathlib import Path

from engine.contract import layout, writes
from engine.contract import recipe as recipes
from engine.contract.events import Emitter


class RunSinks:
    def __init__(self) -> None:
        self.files: list = []
        self.tb = self.review = None

    def open(self, run_dir: Path, recipe: recipes.Recipe, resume_state: dict | None, ctx, emitter: Emitter) -> None:
        """The sinks, added to `emitter`'s listeners. The file copy of the stream fails loudly (a
        full disk stops the run); a client pipe that went away is dropped by the emitter."""
        from engine.contract.hparams import run_hparams
        from engine.review.sinks import TensorBoardSink, jsonl_writer, log_writer

        self.files = [writes.open_append(run_dir / layout.EVENTS), writes.open_append(run_dir / layout.LOG)]
        done = (resume_state or {}).get("global_step")  # a resumed run redraws what followed its checkpoint
        purge = done + 1 if isinstance(done, int) and not isinstance(done, bool) else None
        self.tb = TensorBoardSink(layout.tensorboard_dir(run_dir), run_hparams(recipes.to_dict(recipe)),
                                  recipes.dumps(recipe), purge_step=purge)
        emitter.listeners += [jsonl_writer(self.files[0]), self.tb, log_writer(self.files[1])]
        from engine.review.figures import Review  # the periodic gap listens last

        self.review = Review(ctx, run_dir, emitter.emit)
        emitter.listeners.append(self.review.on_event)

    def close(self) -> None:
        """Every sink closed; nothing here raises (a full disk may refuse the last flush: what was
        written stays)."""
        closers = [x.close for x in (self.tb, self.review) if x is not None] + [f.close for f in self.files]
        for close in closers:
            with contextlib.suppress(Exception):
                close()
        self.files, self.tb, self.review = [], None, None
