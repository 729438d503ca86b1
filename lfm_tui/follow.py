"""A run that another process executes (a sweep's run, here or on a cluster node), followed
through its run folder: the events appended to its events.jsonl are fed to a RunSession until
the run reports how it ended, so the run screen shows it as it goes."""
from __future__ import annotations

import asyncio
from pathlib import Path

from engine.contract import layout
from engine.contract.events import ProtocolError, RunFinished
from lfm_tui.session import RunSession
from lfm_tui.sweep_status import EventTail

POLL_S = 0.5


def following_session(label: str, clock) -> RunSession:
    return RunSession(label=label, clock=clock, replay=True, following=True)


async def follow(session: RunSession, run_dir: Path, poll_s: float = POLL_S) -> None:
    """Feeds `session` from `run_dir`'s events until run_finished (then it is a replay)."""
    tail = EventTail(Path(run_dir) / layout.EVENTS)
    try:
        while session.following:
            events = await asyncio.to_thread(tail.read)  # the file read off the event loop
            for ev in events:
                session.feed(ev)
            if any(isinstance(ev, RunFinished) for ev in events):
                break
            await asyncio.sleep(poll_s)
    except (ProtocolError, OSError) as exc:  # a newer protocol; events.jsonl replaced by a folder
        session.add_log("error", f"{run_dir}: {exc}")
    finally:
        session.end_replay()
