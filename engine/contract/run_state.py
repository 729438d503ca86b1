"""What a client knows of one run, folded from its typed events (engine/contract/events.py): the
one reduction of an event stream, for a live run and a replayed events.jsonl alike. The
dashboard, `lfm run`'s views, `lfm sweep --status`, the run history and `lfm plot` all read it.

What the engine decided (which epoch is best, how the run ended) is taken from its events
(`checkpoint` with best, `run_finished`), never re-derived here; progress (steps and epochs done
of all) is computed here and nowhere else. Standard library only.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from engine.contract.events import (FINISH_STATUSES, AlphaUpdated, Checkpoint, Eval, Event, Log, Preparing,
                                    RunFinished, RunStarted, Step)

HISTORY = 5000  # points kept per series: charts draw from bounded buffers


def _acc(part) -> float | None:
    """The `acc` of a table of metrics, where it is a number."""
    v = part.get("acc") if isinstance(part, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def preparing_text(p: dict | None) -> str:
    """`preparing: text embeddings 512/1906 texts` of a `preparing` event as the reducer keeps it
    (RunState.preparing), where its cache is at its start; "" for none."""
    if not p:
        return ""
    total = f"/{p['total']}" if p.get("total") is not None else ""
    where = f", cached in {p['cache']} for the runs after" if p.get("cache") and p.get("done") == 0 else ""
    return f"preparing: {p.get('what')} {p.get('done')}{total} {p.get('unit') or 'items'}{where}"


@dataclass
class RunState:
    history: int = HISTORY      # points kept per series (0: none, for views of many runs at once)
    run_name: str = ""          # `<recipe>/<run folder>`, as run_started names it
    recipe_name: str = ""
    dataset: str = ""
    modalities: list[str] = field(default_factory=list)
    run_dir: str = ""
    recipe: dict = field(default_factory=dict)   # the resolved recipe the engine reported
    epochs: int = 0
    steps_per_epoch: int = 0
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    epochs_done: int = 0        # the last epoch validated
    alpha: float = 0.0
    lr: float = 0.0
    samples_per_s: float = 0.0
    last_losses: dict[str, float] = field(default_factory=dict)
    losses: dict[str, deque] = field(default_factory=dict)          # name -> (global_step, value)
    alpha_by_epoch: dict[int, float] = field(default_factory=dict)
    # training progress in epochs at the start of a step (epoch - 1 + (step - 1) / steps_per_epoch)
    # -> its alpha, held to the next; alpha_until: the end of the last step reported
    alpha_by_progress: dict[float, float] = field(default_factory=dict)
    alpha_until: float | None = None
    val_times: list[float] = field(default_factory=list)  # when each validation was reported (engine clock)
    hypergradient_by_epoch: dict[int, float] = field(default_factory=dict)
    val_history: list[dict] = field(default_factory=list)
    last_val: dict | None = None
    best: dict | None = None    # the validation of the epoch whose weights are best.pt
    test: dict | None = None    # the test split's eval
    test_summary: dict | None = None  # the test numbers run_finished (or summary.json) reported
    status: str = ""            # "", "running", "ok", "cancelled", "failed"
    exit_code: int | None = None  # the exit status the engine reported with run_finished
    error: str | None = None
    traceback: str | None = None
    starts: int = 0             # run_started events: engine processes that ran the run
    started_at: float = 0.0     # time of the first run_started
    last_started_at: float = 0.0  # time of the last one
    finished_at: float = 0.0
    last_time: float = 0.0      # time of the latest event
    pace_from: tuple[int, float] | None = None  # (global step, time) of this engine process's first step
    last_step_time: float = 0.0
    unknown_events: int = 0
    malformed_events: int = 0
    preparing: dict | None = None  # the latest `preparing` event's what, done, total, unit, cache

    _ON: ClassVar[dict[type, str]] = {RunStarted: "_started", Step: "_step", Eval: "_eval",
                                      AlphaUpdated: "_alpha_updated", Checkpoint: "_checkpoint",
                                      RunFinished: "_finished", Log: "", Preparing: "_preparing"}

    def apply(self, ev: Event) -> None:
        """Takes one event in; an unknown type is counted and skipped, as is one with fields it
        cannot use (engine/contract/events.py checks the types of what arrives from a stream)."""
        self.last_time = getattr(ev, "time", 0.0) or self.last_time
        name = self._ON.get(type(ev))
        if name is None:
            self.unknown_events += 1
        elif name:
            try:
                getattr(self, name)(ev)
            except (KeyError, TypeError, ValueError, AttributeError):
                self.malformed_events += 1

    def _started(self, ev: RunStarted) -> None:
        self.run_name, self.recipe_name, self.dataset = ev.run_name, ev.recipe_name, ev.dataset
        self.modalities, self.run_dir, self.recipe = list(ev.modalities), ev.run_dir, dict(ev.recipe)
        self.epochs, self.steps_per_epoch = ev.epochs, ev.steps_per_epoch
        at = ev.resumed_from or {}
        if isinstance(at.get("epoch"), int) and isinstance(at.get("step"), int):
            self._resume_at(at["epoch"], at["step"])
        self.status, self.finished_at, self.starts = "running", 0.0, self.starts + 1
        self.error = self.traceback = self.exit_code = None
        self.started_at = self.started_at or ev.time
        self.last_started_at = ev.time or self.last_started_at
        self.pace_from = None   # the pace of this engine process only

    def _preparing(self, ev: Preparing) -> None:
        self.preparing = {"what": ev.what, "done": ev.done, "total": ev.total, "unit": ev.unit, "cache": ev.cache}

    def _step(self, ev: Step) -> None:
        self.epoch, self.step, self.global_step = ev.epoch, ev.step, ev.global_step
        self.alpha, self.lr, self.samples_per_s = ev.alpha, ev.lr, ev.samples_per_s
        self.last_losses = dict(ev.losses)
        for k, v in ev.losses.items():
            self.losses.setdefault(k, deque(maxlen=self.history)).append((ev.global_step, v))
        self.alpha_by_epoch[ev.epoch] = ev.alpha
        per_epoch = max(self.steps_per_epoch, ev.step, 1)
        x = round(ev.epoch - 1 + (ev.step - 1) / per_epoch, 6)   # the value holds from its step's start
        self.alpha_by_progress.pop(x, None)
        self.alpha_by_progress[x] = ev.alpha
        self.alpha_until = max(self.alpha_until or 0.0, round(ev.epoch - 1 + ev.step / per_epoch, 6))
        while len(self.alpha_by_progress) > self.history:
            del self.alpha_by_progress[next(iter(self.alpha_by_progress))]
        if self.pace_from is None:
            self.pace_from = (ev.global_step, ev.time)
        self.last_step_time = ev.time

    def _eval(self, ev: Eval) -> None:
        record = {"split": ev.split, "epoch": ev.epoch, "loss": ev.loss, "fused": ev.fused,
                  "modalities": ev.modalities, "gap": ev.gap, "modality_gap": ev.modality_gap,
                  "samples": ev.samples, "unimodal": ev.unimodal}
        if ev.split == "val":
            self.last_val = record
            self.val_history.append(record)
            if ev.time:
                self.val_times.append(ev.time)
            self.epochs_done = max(self.epochs_done, ev.epoch)
        elif ev.split == "test":
            self.test = record

    def _alpha_updated(self, ev: AlphaUpdated) -> None:
        self.hypergradient_by_epoch[ev.epoch] = ev.hypergradient

    def _checkpoint(self, ev: Checkpoint) -> None:
        if ev.best:
            self.best = self._val_summary(ev.epoch) or self.best

    def _finished(self, ev: RunFinished) -> None:
        self.status, self.exit_code, self.best = ev.status, ev.exit_code, ev.best
        self.error, self.traceback, self.test_summary = ev.error, ev.traceback, ev.test
        self.finished_at = ev.time

    def _resume_at(self, epoch: int, step: int) -> None:
        """A resumed engine continues from its checkpoint (`step` steps into `epoch`): what the
        history holds beyond that point (an engine killed after its last checkpoint) is dropped,
        since the resumed engine reports it again."""
        self.epoch, self.step = epoch, step
        self.global_step = (epoch - 1) * self.steps_per_epoch + step
        for name, points in self.losses.items():
            self.losses[name] = deque((p for p in points if p[0] <= self.global_step), maxlen=self.history)
        last = epoch if step else epoch - 1   # the last epoch with steps before the checkpoint
        for series in (self.alpha_by_epoch, self.hypergradient_by_epoch):
            for e in [e for e in series if e > last]:
                del series[e]
        reached = epoch - 1 + step / max(self.steps_per_epoch, step, 1)
        for x in [x for x in self.alpha_by_progress if x >= reached - 1e-6]:  # steps after the checkpoint
            del self.alpha_by_progress[x]
        self.alpha_until = min(self.alpha_until, round(reached, 6)) if self.alpha_until is not None else None
        self.val_history = [r for r in self.val_history if isinstance(r.get("epoch"), int) and r["epoch"] < epoch]
        self.last_val = self.val_history[-1] if self.val_history else None
        self.epochs_done = min(self.epochs_done, epoch - 1)
        self.test = self.test_summary = None

    def _val_summary(self, epoch) -> dict | None:
        """The validation of `epoch` as the engine's `best` holds it (fused metrics, epoch, gap)."""
        for record in reversed(self.val_history):
            if record.get("epoch") == epoch:
                return {**(record.get("fused") or {}), "epoch": epoch, "gap": record.get("gap")}
        return None

    @property  # ---------------------------------------------------------- derived
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def done_steps(self) -> int:
        """Steps done: where the last step event is, or the end of the last epoch validated."""
        at = (self.epoch - 1) * self.steps_per_epoch + self.step if self.epoch else 0
        return max(at, self.epochs_done * self.steps_per_epoch)

    @property
    def progress(self) -> float:
        """The share of the run done, 0 .. 1 (1 once it finished ok)."""
        if self.status == "ok":
            return 1.0
        total = self.total_steps
        return max(0.0, min(1.0, self.done_steps / total)) if total else 0.0

    @property
    def val_acc(self) -> dict[int, float]:
        """Fused validation ACC by epoch."""
        return {r["epoch"]: a for r in self.val_history if (a := _acc(r.get("fused"))) is not None}

    @property
    def best_acc(self) -> float | None:
        return _acc(self.best)

    @property
    def test_acc(self) -> float | None:
        return _acc(self.test_summary) if self.test_summary is not None else _acc((self.test or {}).get("fused"))

    def settle(self, summary: dict | None, written: float) -> None:
        """How the run ended by its summary.json (written at `written`, Unix time) where the
        events do not say it: a summary older than the last start is a stopped run's, resumed
        since, and says nothing of this one."""
        status = (summary or {}).get("status")
        if self.status not in ("", "running") or status not in FINISH_STATUSES or written < self.last_started_at:
            return
        self.status = status
        if isinstance(summary.get("error"), str):
            self.error = summary["error"]
        if _acc(summary.get("best")) is not None:
            self.best = summary["best"]
        self.test_summary = summary.get("test") if _acc(summary.get("test")) is not None else {}
        done = summary.get("epochs_done")
        if isinstance(done, int) and not isinstance(done, bool) and 0 <= done <= max(self.epochs, done):
            self.epochs_done = max(self.epochs_done, done)
        if status == "ok" and self.epochs:
            self.epoch, self.step = self.epochs, self.steps_per_epoch
