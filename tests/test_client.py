"""The engine client against fake engines: replay, stderr, crash, a newer protocol, and one
that ignores SIGINT."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from engine.contract.events import Event, LogLine
from lfm_tui.client import EngineClient, Exited

FAKE = str(Path(__file__).parent / "fakes" / "fake_engine.py")


def recording(tmp_path: Path, n_steps: int = 20) -> Path:
    evs = [{"v": 1, "type": "run_started", "seq": 0, "time": 1.0, "run_id": "r/1", "recipe": {},
            "recipe_name": "r", "dataset": "mfeat", "modalities": ["pix", "mor"], "run_dir": "runs/r/1",
            "epochs": 2, "steps_per_epoch": 10, "resumed_from": None}]
    for i in range(1, n_steps + 1):
        evs.append({"v": 1, "type": "step", "seq": i, "time": 1.0 + i, "epoch": 1 + (i - 1) // 10,
                    "step": 1 + (i - 1) % 10, "global_step": i, "losses": {"total": 1.0 / i},
                    "alpha": 0.5, "lr": 0.001, "samples_per_s": 100.0})
    evs.append({"v": 1, "type": "mystery", "seq": 99, "time": 50.0})
    evs.append({"v": 1, "type": "run_finished", "seq": 100, "time": 60.0, "status": "ok", "best": {"acc": 90.0},
                "test": None, "error": None, "traceback": None})
    p = tmp_path / "events.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in evs))
    return p


async def collect(client: EngineClient, on_event=None) -> list:
    items = []
    async for item in client.events():
        items.append(item)
        if on_event:
            on_event(item)
    return items


def test_replay_yields_events_stderr_and_exit(tmp_path: Path) -> None:
    rec = recording(tmp_path)
    items = asyncio.run(collect(EngineClient([], command=[sys.executable, FAKE, "replay", str(rec)])))
    events = [i for i in items if isinstance(i, Event)]
    assert [e.type for e in events][:2] == ["run_started", "step"]
    assert len([e for e in events if e.type == "step"]) == 20
    assert any(e.type == "mystery" for e in events)  # unknown types are passed on, not fatal
    logs = [i for i in items if isinstance(i, LogLine)]
    assert any(l.stream == "stderr" and "warming up" in l.text for l in logs)
    assert any(l.stream == "stdout" and "not JSON" in l.text for l in logs)
    assert items[-1] == Exited(0)


def test_crash_ends_with_its_exit_code_and_traceback(tmp_path: Path) -> None:
    items = asyncio.run(collect(EngineClient([], command=[sys.executable, FAKE, "crash"])))
    assert items[-1] == Exited(1)
    assert any(isinstance(i, LogLine) and "RuntimeError: boom" in i.text for i in items)


def test_newer_protocol_is_reported_not_fatal(tmp_path: Path) -> None:
    items = asyncio.run(collect(EngineClient([], command=[sys.executable, FAKE, "newer"])))
    assert any(isinstance(i, LogLine) and "update the client" in i.text for i in items)
    assert items[-1] == Exited(0)


def test_sigint_stops_a_cooperative_engine(tmp_path: Path) -> None:
    rec = recording(tmp_path, 200)
    client = EngineClient([], command=[sys.executable, FAKE, "replay", str(rec), "0.02"])

    def on_event(item):
        if isinstance(item, Event) and item.type == "step" and item["step"] == 3:
            assert client.request_stop() == "SIGINT"

    items = asyncio.run(collect(client, on_event))
    assert items[-1] == Exited(130)
    finished = [i for i in items if isinstance(i, Event) and i.type == "run_finished"]
    assert finished[-1]["status"] == "cancelled"


def test_stop_escalates_when_sigint_is_ignored(tmp_path: Path) -> None:
    rec = recording(tmp_path, 5)

    async def scenario():
        client = EngineClient([], command=[sys.executable, FAKE, "stubborn", str(rec)])
        await client.start()
        await asyncio.sleep(0.5)
        code = await client.stop(grace=0.5, term_grace=5)
        return code

    code = asyncio.run(scenario())
    assert code == -15  # SIGTERM after SIGINT was ignored
