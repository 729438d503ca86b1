"""The runs under a runs folder, for the History screen: recipe, status, date, best metric.

A run folder is `<runs>/<recipe>/<stamp>-<seed>/` with events.jsonl; summary.json, when the run
got that far, gives its status and best metrics, else the events do."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.events import Event, read_events


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
        return datetime.fromtimestamp(folder.stat().st_mtime).strftime("%Y-%m-%d %H:%M")


def _from_events(events: list[Event]) -> tuple[str, float | None, int | None]:
    status, best, epochs = "incomplete", None, None
    for ev in events:
        if ev.type == "eval" and ev.get("split") == "val":
            acc = (ev.get("fused") or {}).get("acc")
            epochs = ev.get("epoch")
            if acc is not None and (best is None or acc > best):
                best = acc
        elif ev.type == "run_finished":
            status = ev.get("status", status)
            best = (ev.get("best") or {}).get("acc", best)
    return status, best, epochs


def read_run(folder: Path) -> RunInfo | None:
    events_path = folder / "events.jsonl"
    if not events_path.is_file():
        return None
    summary = folder / "summary.json"
    recipe = folder.parent.name
    try:
        data = json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else None
    except (OSError, json.JSONDecodeError):
        data = None
    if isinstance(data, dict) and data.get("status"):
        best = (data.get("best") or {}).get("acc")
        return RunInfo(folder, data.get("recipe_name") or recipe, data["status"], _date(folder),
                       best, data.get("epochs_done"))
    try:
        status, best, epochs = _from_events(read_events(str(events_path)))
    except (OSError, ValueError) as exc:  # a newer protocol, an unreadable file
        return RunInfo(folder, recipe, f"unreadable: {exc}", _date(folder), None, None)
    return RunInfo(folder, recipe, status, _date(folder), best, epochs)


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run under `runs_dir`, newest first."""
    if not runs_dir.is_dir():
        return []
    found = []
    for events in runs_dir.glob("*/*/events.jsonl"):
        info = read_run(events.parent)
        if info is not None:
            found.append(info)
    return sorted(found, key=lambda r: (r.path.name, r.path.parent.name), reverse=True)
