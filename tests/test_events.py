"""The event protocol: every type round-trips; garbage, unknown types and newer versions."""
from __future__ import annotations

import io
import json

import pytest

from engine.contract.events import (EVENT_FIELDS, PROTOCOL_VERSION, Emitter, Event, LogLine, ProtocolError,
                           make, parse_line)


# one well-formed event of each type (field types as engine/contract/events.py FIELD_TYPES checks them)
SAMPLES = {
    "run_started": {"run_id": "r/1", "recipe": {"name": "r"}, "recipe_name": "r", "dataset": "mfeat",
                    "modalities": ["pix", "mor"], "run_dir": "runs/r/1", "epochs": 2, "steps_per_epoch": 3,
                    "resumed_from": None},
    "step": {"epoch": 1, "step": 2, "global_step": 2, "losses": {"total": 1.5}, "alpha": 0.5, "lr": 0.001,
             "samples_per_s": 100.0},
    "eval": {"split": "val", "epoch": 1, "loss": 0.5, "fused": {"acc": 90.0}, "modalities": {"pix": {"acc": 80.0}},
             "gap": 3.0, "modality_gap": 0.1},
    "alpha_updated": {"epoch": 1, "alpha": 0.4, "hypergradient": -0.1, "method": "cg", "seconds": 0.2},
    "checkpoint": {"path": "last.pt", "epoch": 1, "step": 0, "best": True},
    "log": {"level": "info", "message": "hello"},
    "run_finished": {"status": "ok", "best": {"acc": 90.0, "epoch": 1}, "test": None, "error": None,
                     "traceback": None},
}


@pytest.mark.parametrize("type_", sorted(EVENT_FIELDS))
def test_every_event_type_round_trips(type_: str) -> None:
    data = SAMPLES[type_]
    assert set(data) == set(EVENT_FIELDS[type_])
    buf = io.StringIO()
    em = Emitter([buf])
    em.emit(type_, **data)
    em.emit(type_, **data)
    lines = buf.getvalue().splitlines()
    first, second = parse_line(lines[0]), parse_line(lines[1])
    assert isinstance(first, Event) and first.type == type_ and first.data == data
    assert (first.seq, second.seq, first.v) == (0, 1, PROTOCOL_VERSION)


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


def test_newer_major_version_is_refused_clearly() -> None:
    with pytest.raises(ProtocolError, match="update the client"):
        parse_line(json.dumps({"v": PROTOCOL_VERSION + 1, "type": "step"}))


def test_a_closed_stream_does_not_stop_the_emitter() -> None:
    closed, kept = io.StringIO(), io.StringIO()
    closed.close()
    seen = []
    em = Emitter([closed, kept], listeners=[seen.append])
    em.emit("log", level="info", message="hello")
    assert kept.getvalue().count("hello") == 1 and len(seen) == 1
