"""The event protocol: every type round-trips; garbage, unknown types and newer versions."""
from __future__ import annotations

import io
import json

import pytest

from engine.contract.events import (EVENT_TYPES, PROTOCOL_VERSION, AlphaUpdated, Checkpoint, Emitter, Eval, Event,
                                    Log, LogLine, Preparing, ProtocolError, RunFinished, RunStarted, Step, UnknownEvent,
                                    make, parse_line)


# one well-formed event of each type, every field set (optional ones included)
SAMPLES = {
    "preparing": Preparing(what="text embeddings", done=512, total=1906, unit="texts", cache="/c/minilm-1.npy"),
    "run_started": RunStarted(run_name="r/1", recipe={"name": "r"}, recipe_name="r", dataset="mfeat",
                              modalities=["pix", "mor"], run_dir="runs/r/1", epochs=2, steps_per_epoch=3,
                              resumed_from=None, split_sizes={"train": 10, "val": 3, "test": 3},
                              classes=["a", "b"], skipped_samples=0, pid=42, world_size=1),
    "step": Step(epoch=1, step=2, global_step=2, losses={"total": 1.5}, alpha=0.5, lr=0.001, samples_per_s=100.0),
    "eval": Eval(split="val", epoch=1, loss=0.5, fused={"acc": 90.0, "map": None}, modalities={"pix": {"acc": 80.0}},
                 gap=3.0, modality_gap=0.1, samples=3, unimodal="split_head",
                 confusion={"fused": [[1, 0], [1, 1]]}, ranks={"world_size": 2, "alphas": [0.5, 0.5]}),
    "alpha_updated": AlphaUpdated(epoch=1, alpha=0.4, hypergradient=-0.1, method="cg", seconds=0.2, previous=0.5,
                                  optimizer="sgd", lr_alpha=0.01, step=0, extra={"residual": 0.01, "terms_used": 5}),
    "checkpoint": Checkpoint(path="last.pt", epoch=1, step=0, best=True),
    "log": Log(level="warning", message="hello", skipped=2),
    "run_finished": RunFinished(status="ok", best={"acc": 90.0, "epoch": 1}, test=None, error=None, traceback=None,
                                run_dir="runs/r/1", exit_code=0),
}


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_every_event_type_round_trips(type_: str) -> None:
    """emit -> JSON -> parse gives back an equal object of the same class, seq and time included."""
    sample = SAMPLES[type_]
    assert sample.type == type_ and type(sample) is EVENT_TYPES[type_]
    buf = io.StringIO()
    em = Emitter([buf])
    first_sent = em.emit(sample)
    second_sent = em.emit(EVENT_TYPES[type_].build(**sample.data))
    lines = buf.getvalue().splitlines()
    first, second = parse_line(lines[0]), parse_line(lines[1])
    assert type(first) is type(sample) and first == first_sent and second == second_sent
    assert first.data == second.data == sample.data and first.extra == sample.extra
    assert (first.seq, second.seq, first.v) == (0, 1, PROTOCOL_VERSION)
    assert json.loads(lines[0])["type"] == type_


def test_the_wire_format_is_flat_and_leaves_unset_optional_fields_out() -> None:
    ev = Step(epoch=1, step=2, global_step=2, losses={"total": 1.5}, alpha=0.5, lr=0.001, samples_per_s=100.0)
    assert json.loads(ev.to_json()) == {"v": 1, "type": "step", "seq": -1, "time": 0.0, "epoch": 1, "step": 2,
                                        "global_step": 2, "losses": {"total": 1.5}, "alpha": 0.5, "lr": 0.001,
                                        "samples_per_s": 100.0}
    done = RunFinished(status="failed", best=None, test=None, error="boom", traceback=None)
    assert json.loads(done.to_json()) == {"v": 1, "type": "run_finished", "seq": -1, "time": 0.0, "status": "failed",
                                          "best": None, "test": None, "error": "boom", "traceback": None}


def test_a_malformed_field_is_refused_naming_it() -> None:
    with pytest.raises(ProtocolError, match=r"'step' wrong type of epoch$"):
        Emitter([io.StringIO()]).emit(Step(epoch="one", step=2, global_step=2, losses={}, alpha=0.5, lr=0.1,
                                           samples_per_s=1.0))
    with pytest.raises(ProtocolError, match=r"wrong type of status$"):
        Emitter([]).emit(RunFinished(status="done", best=None, test=None, error=None, traceback=None))
    line = json.dumps({"v": 1, "type": "checkpoint", "path": "last.pt", "epoch": 1, "step": 0, "best": "yes"})
    item = parse_line(line)
    assert isinstance(item, LogLine) and item.stream == "stderr"
    assert item.text.startswith("(a malformed checkpoint event, wrong type of best: ")
    eval_line = json.dumps({**json.loads(SAMPLES["eval"].to_json()), "confusion": {"fused": [[1.5]]}})
    assert parse_line(eval_line).text.startswith("(a malformed eval event, wrong type of confusion: ")


def test_the_old_name_run_id_is_read_as_run_name() -> None:
    body = json.loads(SAMPLES["run_started"].to_json())
    body["run_id"] = body.pop("run_name")
    item = parse_line(json.dumps(body))
    assert isinstance(item, RunStarted) and item.run_name == "r/1" and "run_id" not in item.extra
    assert item == SAMPLES["run_started"]
    assert make("run_started", **{k: v for k, v in body.items() if k not in ("v", "type", "seq", "time")}) == item
    assert '"run_name":"r/1"' in item.to_json() and "run_id" not in item.to_json()


def test_missing_field_is_refused() -> None:
    with pytest.raises(ProtocolError, match="lacks"):
        make("step", epoch=1)


def test_garbage_and_non_events_become_log_lines() -> None:
    for text in ("Traceback (most recent call last):", "[1, 2]", '{"no": "type"}', "{broken"):
        item = parse_line(text + "\n")
        assert isinstance(item, LogLine) and item.text == text
    assert parse_line("\n") is None


def test_unknown_type_is_passed_through_for_the_reader_to_skip() -> None:
    item = parse_line(json.dumps({"v": 1, "type": "from_the_future", "seq": 3, "time": 1.0, "x": 2}))
    assert isinstance(item, Event) and item.type == "from_the_future" and item["x"] == 2
    assert isinstance(item, UnknownEvent) and (item.seq, item.time) == (3, 1.0)


def test_newer_major_version_is_refused_clearly() -> None:
    with pytest.raises(ProtocolError, match="update the client"):
        parse_line(json.dumps({"v": PROTOCOL_VERSION + 1, "type": "step"}))


def test_a_closed_stream_does_not_stop_the_emitter() -> None:
    closed, kept = io.StringIO(), io.StringIO()
    closed.close()
    copy = io.StringIO()
    em = Emitter([closed, kept], files=[copy])
    em.emit(Log(level="info", message="hello"))
    assert kept.getvalue().count("hello") == 1 and copy.getvalue().count("hello") == 1


def test_report_writes_each_event_then_calls_the_callbacks_of_its_point_in_order() -> None:
    from engine.training.callbacks import Report, RunCallback

    calls: list[tuple] = []

    class Recorder(RunCallback):
        def __init__(self, name: str) -> None:
            self.name = name

        def on_step(self, ev) -> None:
            calls.append((self.name, "step", ev.seq, out.getvalue().count("\n")))

        def on_eval(self, ev) -> None:
            calls.append((self.name, "eval", ev.seq, out.getvalue().count("\n")))

        def on_finish(self, ev) -> None:
            calls.append((self.name, "finish", ev.seq, out.getvalue().count("\n")))

    out = io.StringIO()
    report = Report(Emitter([out]), [Recorder("a"), Recorder("b")])
    report.step(SAMPLES["step"])
    report.log(SAMPLES["log"])        # no callback here has on_log: written, nothing called
    report.eval(SAMPLES["eval"])
    report.finish(SAMPLES["run_finished"])
    assert calls == [("a", "step", 0, 1), ("b", "step", 0, 1), ("a", "eval", 2, 3), ("b", "eval", 2, 3),
                     ("a", "finish", 3, 4), ("b", "finish", 3, 4)]  # each after its line was written


def test_a_file_copy_that_cannot_be_written_stops_the_emitter_naming_it(tmp_path) -> None:
    class Full(io.StringIO):
        name = str(tmp_path / "events.jsonl")

        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    kept = io.StringIO()
    with pytest.raises(OSError, match="No space left on device") as info:
        Emitter([kept], files=[Full()]).emit(Log(level="info", message="hello"))
    assert info.value.filename == str(tmp_path / "events.jsonl") and info.value.errno == 28
    assert kept.getvalue().count("hello") == 1  # the client's stream has it


def test_a_reader_that_does_not_know_preparing_skips_it() -> None:
    """An older reader (without the `preparing` type) gets an UnknownEvent, which it skips; the
    run's events after it read as before."""
    from engine.contract import events

    line = Emitter([buf := io.StringIO()]).emit(SAMPLES["preparing"]).to_json()
    assert buf.getvalue() == line + "\n"
    older = {k: v for k, v in EVENT_TYPES.items() if k != "preparing"}
    saved = dict(EVENT_TYPES)
    try:
        events.EVENT_TYPES.clear()
        events.EVENT_TYPES.update(older)
        item = parse_line(line)
    finally:
        events.EVENT_TYPES.clear()
        events.EVENT_TYPES.update(saved)
    assert isinstance(item, UnknownEvent) and item.type == "preparing" and item.extra["done"] == 512
    assert isinstance(parse_line(line), Preparing)
