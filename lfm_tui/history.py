"""The runs under a runs folder, for the History screen: recipe, status, date, best metric.

A run folder is `<runs>/<recipe>/<stamp>-<seed>/` (engine/layout.py); summary.json, when the run
got that far, gives its status and best metrics, else its events replayed do (the engine's
best checkpoint and reported status, not a re-derivation)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine import layout
from engine.events import Event, ProtocolError, read_events
from lfm_tui.state import RunState


@dataclass
class RunInfo:
    path: Path
    recipe: str
    status: str
    date: str         # "YYYY-MM-DD HH:MM"
    best_acc: float | None
    epochs_done: int | None

    @property
    def run_id(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def _date(folder: Path) -> str:
    stamp = folder.name.split("-")[:2]
    try:
        return datetime.strptime("-".join(stamp), "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M")
    except ValueError:
        try:
            return datetime.fromtimestamp(folder.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        except OSError:
            return ""


def _from_events(events: list[Event]) -> tuple[str, float | None, int | None]:
    state = RunState()
    for ev in events:
        state.apply(ev)
    status = state.status if state.status and state.status != "running" else "incomplete"
    epochs = state.val_history[-1].get("epoch") if state.val_history else None
    return status, _number((state.best or {}).get("acc")), epochs if isinstance(epochs, int) else None


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def read_run(folder: Path) -> RunInfo | None:
    """A run folder's line in the history; a folder whose files cannot be read is listed as
    `unreadable: why`, never raised."""
    events_path = folder / layout.EVENTS
    if not events_path.is_file():
        return None
    recipe = folder.parent.name
    data = layout.read_summary(folder)
    if data is not None and isinstance(data.get("status"), str) and data["status"]:
        best = data.get("best") if isinstance(data.get("best"), dict) else {}
        epochs = data.get("epochs_done")
        name = data.get("recipe_name")
        return RunInfo(folder, name if isinstance(name, str) and name else recipe, data["status"][:40],
                       _date(folder), _number(best.get("acc")),
                       epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None)
    try:
        status, best, epochs = _from_events(read_events(str(events_path)))
    except (OSError, ProtocolError) as exc:  # a newer protocol, an unreadable file
        return RunInfo(folder, recipe, f"unreadable: {exc}", _date(folder), None, None)
    return RunInfo(folder, recipe, status, _date(folder), best, epochs)


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run under `runs_dir`, newest first."""
    if not runs_dir.is_dir():
        return []
    found = []
    for events in runs_dir.glob(f"*/*/{layout.EVENTS}"):
        info = read_run(events.parent)
        if info is not None:
            found.append(info)
    return sorted(found, key=lambda r: (r.path.name, r.path.parent.name), reverse=True)
