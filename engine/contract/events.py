"""The event protocol between the engine and its clients: JSON Lines, one object a line.

Standard library only: the UI imports this module without torch.

Every event carries `v` (protocol major version), `type`, `seq` (0, 1, 2, ... within one engine
process) and `time` (Unix seconds). Each type is a dataclass below (Preparing, RunStarted, Step,
Eval, AlphaUpdated, Checkpoint, Log, RunFinished): its fields, their types and their meanings are the
protocol, and what a reader checks is derived from them (engine/contract/event_fields.py), as is
docs/events.md (engine/contract/event_docs.py). A reader ignores unknown types (they come back as
UnknownEvent), treats non-JSON lines as log text, and refuses an event whose major version is
newer than its own. A stream is untrusted input: an event of a known type whose required fields
are missing or of the wrong type is never handed on as an event, but as a line of text saying
what is wrong with it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from engine.contract import untrusted
from engine.contract.event_fields import (Envelope, Metrics, ProtocolError, checker, optional, payload_names,
                                          problem, required)

PROTOCOL_VERSION = 1
FinishStatus = Literal["ok", "cancelled", "failed"]
FINISH_STATUSES: tuple[str, ...] = get_args(FinishStatus)
LEGACY_NAMES = {"run_started": {"run_id": "run_name"}}  # type -> {name in older files: name now}

@dataclass(kw_only=True)
class Event(Envelope):
    """An event: the envelope (v, type, seq, time), its type's fields, and in `extra` any other
    field it carries (a writer may add fields freely; a reader keeps them as they came)."""
    type: ClassVar[str] = ""

    @property
    def data(self) -> dict[str, Any]:
        """The fields as the wire holds them, without the envelope: every required field, each
        optional one that is set, then `extra`."""
        out = {}
        for name, is_required in payload_names(type(self)):
            value = getattr(self, name)
            if is_required or value is not None:
                out[name] = value
        return {**out, **self.extra}

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_json(self) -> str:
        body = {"v": self.v, "type": self.type, "seq": self.seq, "time": self.time, **self.data}
        return json.dumps(body, separators=(",", ":"), allow_nan=True)

    @classmethod
    def build(cls, *, seq: int = -1, time: float = 0.0, v: int = PROTOCOL_VERSION, **data: Any) -> "Event":
        """The event of these wire fields; ProtocolError naming a field that is missing or of the
        wrong type. Fields the type does not declare go to `extra`."""
        wrong = problem(cls, data)
        if wrong:
            raise ProtocolError(f"event {cls.type!r} {wrong}")
        names = {n for n, _ in payload_names(cls)}
        return cls(**{k: x for k, x in data.items() if k in names},
                   extra={k: x for k, x in data.items() if k not in names}, seq=seq, time=time, v=v)


@dataclass(kw_only=True)
class Preparing(Event):
    """Slow preparation before run_started (text embeddings, the prepared cache): at its start, about
    once a second, at its end; on the engine's stream only (events.jsonl begins with run_started)."""
    type: ClassVar[str] = "preparing"
    what: str = required("what is prepared: `text embeddings`, `<modality> cache`, ...")
    done: int = required("items done")
    total: int | None = required("items in all (null where unknown)")
    unit: str | None = optional("what an item is: `texts`, `files`")
    cache: str | None = optional("where the result is cached for the runs after")


@dataclass(kw_only=True)
class RunStarted(Event):
    """An engine process starts training a run (again, for a resumed run: `resumed_from` says where)."""
    type: ClassVar[str] = "run_started"
    run_name: str = required("`<recipe>/<run folder>`: a readable name of the run (not its identity: "
                             "that is the run folder's `run-id` file). Files written before it had "
                             "this name call it `run_id`; readers accept both.")
    recipe: dict[str, Any] = required("the resolved recipe, as `lfm validate` prints it (TOML tables as objects)")
    recipe_name: str = required("the recipe's `name`")
    dataset: str = required("the dataset's name (`data.name`)")
    modalities: list[str] = required("the modalities trained on, in order")
    run_dir: str = required("the run folder")
    epochs: int = required("epochs the run trains in all (`train.epochs`)")
    steps_per_epoch: int = required("optimiser steps in one epoch")
    resumed_from: dict[str, Any] | None = required(
        "null for a new run; for a resumed one `{epoch, step}` of the checkpoint it continues from "
        "(`step` steps into `epoch`): what a reader holds beyond that point is reported again")
    split_sizes: dict[str, int] | None = optional("samples in the train, val and test splits")
    classes: list[str] | None = optional("the class names, in label order (the rows of `eval`'s `confusion`)")
    skipped_samples: int | None = optional("samples left out for missing or unreadable files")
    pid: int | None = optional("the engine's process id")
    world_size: int | None = optional("processes training together (1 without distributed training)")


@dataclass(kw_only=True)
class Step(Event):
    """Training progress, every `train.log_every` steps and at the last step of each epoch."""
    type: ClassVar[str] = "step"
    epoch: int = required("the epoch, counted from 1")
    step: int = required("steps done in this epoch (1 .. steps_per_epoch)")
    global_step: int = required("steps done in the run, all epochs")
    losses: dict[str, float] = required("the step's losses by name (`total`, `cls`, `mm`, ...)")
    alpha: float = required("the weight of the multimodal loss at this step")
    lr: float = required("the learning rate at this step")
    samples_per_s: float = required("training samples a second since the previous step event")


@dataclass(kw_only=True)
class Eval(Event):
    """A split scored: each validation at the end of an epoch, the test split once at the end
    with the best checkpoint."""
    type: ClassVar[str] = "eval"
    split: str = required("`val` or `test`")
    epoch: int = required("the epoch whose weights were scored (test: the best epoch)")
    loss: float = required("the fused prediction's cross-entropy")
    fused: Metrics = required("the fused prediction's metrics: `acc`, `map`, `f1` (percent; null where undefined)")
    modalities: dict[str, Metrics] = required("each modality's metrics, as `fused`")
    gap: float | None = required("the accuracy gap (docs/glossary.md): max - min of the modalities' ACC, in points")
    modality_gap: float | None = required("the feature gap (docs/glossary.md): encoder-feature centroid distance")
    samples: int | None = optional("samples scored (the n of the feature gap)")
    unimodal: str | None = optional("how the modalities' own scores were made (`eval.unimodal`)")
    confusion: dict[str, list[list[int]]] | None = optional(
        "with at most 50 classes: head (`fused` or a modality) -> rows of counts, true class by "
        "predicted class, in the order of run_started's `classes`")
    ranks: dict[str, Any] | None = optional(
        "distributed training: `world_size`, and each rank's `alphas` and `checksums` (they must agree)")


@dataclass(kw_only=True)
class AlphaUpdated(Event):
    """A hypergradient step changed alpha (alpha strategy `learned`); the solver's own
    numbers (residual, terms, curvature estimates, ...) come as further fields."""
    type: ClassVar[str] = "alpha_updated"
    epoch: int = required("the epoch of the update")
    alpha: float = required("alpha after the update")
    hypergradient: float = required("dF/dalpha, the validation loss's derivative in alpha")
    method: str = required("the hypergradient solver (`alpha.hypergradient`)")
    seconds: float = required("seconds the update took")
    previous: float | None = optional("alpha before the update")
    optimizer: str | None = optional("the optimiser of alpha (`alpha.optimizer`)")
    lr_alpha: float | None = optional("alpha's learning rate at this update")
    step: int | None = optional("the global step of an update every N steps; 0 at the end of an epoch")
    t: float | None = optional("this update's evidence: the hypergradient over its standard error (the "
                               "estimates' standard deviation over sqrt(estimates)); none with one estimate")
    agree: bool | None = optional("whether all of this update's estimates have the same sign")
    evidence: float | None = optional("the t statistic the step saw: t pooled over updates by `alpha.horizon` "
                                      "(equal to t without a horizon)")


@dataclass(kw_only=True)
class Checkpoint(Event):
    """A checkpoint written."""
    type: ClassVar[str] = "checkpoint"
    path: str = required("the checkpoint file")
    epoch: int = required("the epoch it continues (or ends)")
    step: int = required("steps done in that epoch")
    best: bool = required("true: the best validation so far (best.pt); the engine alone decides which is best")


@dataclass(kw_only=True)
class Log(Event):
    """A message for the user."""
    type: ClassVar[str] = "log"
    level: str = required("`info`, `warning` or `error`")
    message: str = required("the text")
    skipped: int | None = optional("with the note on skipped samples: how many")
    epoch: int | None = optional("with an epoch's training summary, sent right after its validation: "
                                 "the epoch (the plain log puts both on the epoch's one line)")


@dataclass(kw_only=True)
class RunFinished(Event):
    """How the run ended; the last event of an engine process that could report."""
    type: ClassVar[str] = "run_finished"
    status: FinishStatus = required("`ok`, `cancelled` (stopped; `--resume` continues it) or `failed`")
    best: dict[str, Any] | None = required("the best validation: fused metrics, `epoch` and `gap` (null before any)")
    test: dict[str, Any] | None = required(
        "the test split's numbers as summary.json holds them (null unless ok): fused metrics, `loss`, "
        "`gap` (accuracy gap), `modality_gap` (feature gap), each modality's as `<metric>_<modality>`")
    error: str | None = required("why it failed or stopped, one line (null when ok)")
    traceback: str | None = required("the engine's traceback of a failure (null otherwise)")
    run_dir: str | None = optional("the run folder")
    exit_code: int | None = optional("the exit status the engine ends with (engine/contract/outcome.py)")


@dataclass(kw_only=True)
class UnknownEvent(Event):
    """An event of a type this reader does not know (a newer engine's): its fields are in
    `extra`; readers skip it."""
    type: str = ""


EVENT_TYPES: dict[str, type[Event]] = {c.type: c for c in (Preparing, RunStarted, Step, Eval, AlphaUpdated, Checkpoint,
                                                           Log, RunFinished)}


@dataclass
class LogLine:
    """A line of the stream that is not an event: shown to the user as text."""
    text: str
    stream: str = "stdout"


def _current_names(type_: str, data: dict) -> dict:
    """`data` with the fields older files name otherwise (LEGACY_NAMES) under their names now."""
    for old, new in LEGACY_NAMES.get(type_, {}).items():
        if old in data and new not in data:
            data[new] = data.pop(old)
    return data


def make(type_: str, **data: Any) -> Event:
    """The event of a type named by its text, from its wire fields, older names accepted."""
    if type_ not in EVENT_TYPES:
        raise ProtocolError(f"no event type {type_!r}: one of {', '.join(EVENT_TYPES)}")
    return EVENT_TYPES[type_].build(**_current_names(type_, data))


def parse_line(line: str) -> Event | LogLine | None:
    """One line of an event stream into its typed Event, or a LogLine for anything that is not
    a well-formed event. Raises ProtocolError for an event of a newer major version. Unknown
    event types come back as UnknownEvent: callers skip them."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    if len(text) >= untrusted.MAX_LINE_BYTES:
        return LogLine(f"(a line of {len(text)}+ characters, longer than any event: {text[:200]})", "stderr")
    try:
        obj = untrusted.loads(text, allow_nan=True)  # a diverged run's loss is NaN
    except ValueError as exc:
        if str(exc).startswith("nested deeper"):
            return LogLine(f"(a line {exc}: {text[:200]})", "stderr")
        return LogLine(text)
    if not isinstance(obj, dict) or "type" not in obj or "v" not in obj:
        return LogLine(text)
    v = obj.pop("v")
    if not isinstance(v, int) or isinstance(v, bool):
        return LogLine(text)
    if v > PROTOCOL_VERSION:
        raise ProtocolError(
            f"the engine speaks event protocol {v}, this client understands up to "
            f"{PROTOCOL_VERSION}: update the client (pip install -e .)")
    type_ = str(obj.pop("type"))
    seq, t = obj.pop("seq", -1), obj.pop("time", 0.0)
    seq, t = seq if checker(int)(seq) else -1, t if checker(float)(t) else 0.0
    cls = EVENT_TYPES.get(type_)
    if cls is None:
        return UnknownEvent(type=type_, extra=obj, seq=seq, time=t, v=v)
    wrong = problem(cls, _current_names(type_, obj))
    if wrong:
        return LogLine(f"(a malformed {type_[:40]} event, {wrong}: {text[:200]})", "stderr")
    return cls.build(seq=seq, time=t, v=v, **obj)


def read_events(path: str) -> list[Event]:
    """Every event of an events.jsonl file, skipping lines that are not well-formed events
    (bytes that are not UTF-8 read as replacement characters; a line nested too deep or longer
    than untrusted.MAX_LINE_BYTES is skipped). Raises OSError for a file that cannot be read (a
    folder included) and ProtocolError for a stream of a newer protocol."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in untrusted.lines(fh):
            item = parse_line(line)
            if isinstance(item, Event):
                out.append(item)
    return out


def __getattr__(name: str):
    """`Emitter`, the writer of events, lives in engine/contract/emitter.py."""
    if name == "Emitter":
        from engine.contract.emitter import Emitter
        return Emitter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
