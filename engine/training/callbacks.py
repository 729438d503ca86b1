"""How the parts of a run report: each lifecycle point (the run started, a step, an evaluation, an
alpha update, a checkpoint, a log message, the run finished) is one call of `Report`, made by the
run or its trainer where it happens. The call writes the point's event to the stream (Emitter:
the client's pipe and the run folder's events.jsonl), then calls the run's callbacks for that
point in order: TensorBoard, engine.log and the review figures are callbacks of the run, not
readers of its outgoing events."""
from __future__ import annotations

from engine.contract.emitter import Emitter
from engine.contract.events import AlphaUpdated, Checkpoint, Eval, Log, RunFinished, RunStarted, Step


class RunCallback:
    """What a part of the run does at each lifecycle point, given the event written for it;
    nothing here. A callback that raises stops the run, as a failed write of its own would."""

    def on_run_started(self, ev: RunStarted) -> None:
        pass

    def on_step(self, ev: Step) -> None:
        pass

    def on_eval(self, ev: Eval) -> None:
        pass

    def on_alpha_updated(self, ev: AlphaUpdated) -> None:
        pass

    def on_checkpoint(self, ev: Checkpoint) -> None:
        pass

    def on_log(self, ev: Log) -> None:
        pass

    def on_finish(self, ev: RunFinished) -> None:
        pass


class Report:
    """The run's reports: `emitter` writes each event; `callbacks` are called after it, in order."""

    def __init__(self, emitter: Emitter, callbacks: list[RunCallback] | None = None):
        self.emitter = emitter
        self.callbacks: list[RunCallback] = list(callbacks or [])

    def run_started(self, ev: RunStarted) -> None:
        ev = self.emitter.emit(ev)
        for cb in list(self.callbacks):
            cb.on_run_started(ev)

    def step(self, ev: Step) -> None:
        ev = self.emitter.emit(ev)
        for cb in list(self.callbacks):
            cb.on_step(ev)

    def eval(self, ev: Eval) -> None:
        ev = self.emitter.emit(ev)
        for cb in list(self.callbacks):
            cb.on_eval(ev)

    def alpha_updated(self, ev: AlphaUpdated) -> None:
        ev = self.emitter.emit(ev)
        for cb in list(self.callbacks):
            cb.on_alpha_updated(ev)

    def checkpoint(self, ev: Checkpoint) -> None:
        ev = self.emitter.emit(ev)
        for cb in list(self.callbacks):
            cb.on_checkpoint(ev)

    def log(self, ev: Log) -> None:
        ev = self.emitter.emit(ev)
        for cb in list(self.callbacks):
            cb.on_log(ev)

    def finish(self, ev: RunFinished) -> None:
        ev = self.emitter.emit(ev)
        for cb in list(self.callbacks):
            cb.on_finish(ev)

