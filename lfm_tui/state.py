"""What the UI knows of one run, rebuilt from its events: the same code serves a live run and a
replayed events.jsonl. What the engine decided (which epoch is best, how the run ended) is taken
from its events (`checkpoint` with best, `run_finished`), never re-derived here."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from engine.contract.events import Event

HISTORY = 5000  # points kept per series: charts draw from bounded buffers


@dataclass
class RunState:
    run_id: str = ""
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
    alpha: float = 0.0
    lr: float = 0.0
    samples_per_s: float = 0.0
    last_losses: dict[str, float] = field(default_factory=dict)
    losses: dict[str, deque] = field(default_factory=dict)          # name -> (global_step, value)
    alpha_by_epoch: dict[int, float] = field(default_factory=dict)
    hypergradient_by_epoch: dict[int, float] = field(default_factory=dict)
    val_history: list[dict] = field(default_factory=list)
    last_val: dict | None = None
    best: dict | None = None    # the validation of the epoch whose weights are best.pt
    test: dict | None = None
    status: str = ""            # "", "running", "ok", "cancelled", "failed"
    exit_code: int | None = None  # the exit status the engine reported with run_finished
    error: str | None = None
    traceback: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    unknown_events: int = 0
    malformed_events: int = 0

    def apply(self, ev: Event) -> None:
        """Takes one event in; one the reader let through with fields it cannot use is counted
        and skipped (engine/contract/events.py checks the types of what arrives from a stream)."""
        try:
            self._apply(ev)
        except (KeyError, TypeError, ValueError, AttributeError):
            self.malformed_events += 1

    def _apply(self, ev: Event) -> None:
        t = ev.type
        if t == "run_started":
            self.run_id, self.recipe_name = ev["run_id"], ev["recipe_name"]
            self.dataset, self.modalities = ev["dataset"], list(ev["modalities"])
            self.run_dir, self.epochs = ev["run_dir"], ev["epochs"]
            self.steps_per_epoch, self.recipe = ev["steps_per_epoch"], dict(ev["recipe"])
            at = ev["resumed_from"] or {}
            if isinstance(at.get("epoch"), int) and isinstance(at.get("step"), int):
                self._resume_at(at["epoch"], at["step"])
            self.status, self.finished_at = "running", 0.0
            self.error = self.traceback = self.exit_code = None
            self.started_at = self.started_at or ev.time
        elif t == "step":
            self.epoch, self.step, self.global_step = ev["epoch"], ev["step"], ev["global_step"]
            self.alpha, self.lr = ev["alpha"], ev["lr"]
            self.samples_per_s = ev["samples_per_s"]
            self.last_losses = dict(ev["losses"])
            for k, v in ev["losses"].items():
                self.losses.setdefault(k, deque(maxlen=HISTORY)).append((ev["global_step"], v))
            self.alpha_by_epoch[ev["epoch"]] = ev["alpha"]
        elif t == "eval":
            record = {k: ev.get(k) for k in ("split", "epoch", "loss", "fused", "modalities", "gap",
                                             "modality_gap", "unimodal")}
            if ev["split"] == "val":
                self.last_val = record
                self.val_history.append(record)
            elif ev["split"] == "test":
                self.test = record
        elif t == "alpha_updated":
            self.hypergradient_by_epoch[ev["epoch"]] = ev["hypergradient"]
        elif t == "checkpoint":
            if ev.get("best"):
                self.best = self._val_summary(ev["epoch"]) or self.best
        elif t == "run_finished":
            self.status = ev["status"]
            self.exit_code = ev.get("exit_code") if isinstance(ev.get("exit_code"), int) else None
            self.best = ev["best"]
            self.error, self.traceback = ev["error"], ev["traceback"]
            self.finished_at = ev.time
        elif t != "log":
            self.unknown_events += 1

    def _resume_at(self, epoch: int, step: int) -> None:
        """A resumed engine continues from its checkpoint (`step` steps into `epoch`): what the
        history holds beyond that point (an engine killed after its last checkpoint) is dropped,
        since the resumed engine reports it again."""
        self.epoch, self.step = epoch, step
        self.global_step = (epoch - 1) * self.steps_per_epoch + step
        for name, points in self.losses.items():
            self.losses[name] = deque((p for p in points if p[0] <= self.global_step), maxlen=HISTORY)
        last = epoch if step else epoch - 1   # the last epoch with steps before the checkpoint
        for series in (self.alpha_by_epoch, self.hypergradient_by_epoch):
            for e in [e for e in series if e > last]:
                del series[e]
        self.val_history = [r for r in self.val_history if isinstance(r.get("epoch"), int) and r["epoch"] < epoch]
        self.last_val = self.val_history[-1] if self.val_history else None
        self.test = None

    def _val_summary(self, epoch) -> dict | None:
        """The validation of `epoch` as the engine's `best` holds it (fused metrics, epoch, gap)."""
        for record in reversed(self.val_history):
            if record.get("epoch") == epoch:
                return {**(record.get("fused") or {}), "epoch": epoch, "gap": record.get("gap")}
        return None
