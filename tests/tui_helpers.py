"""Shared pieces of the dashboard tests: the fake engine command and waiting on the app."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE = str(ROOT / "tests" / "fakes" / "fake_engine.py")
FIXTURE_RUN = ROOT / "tests" / "fixtures" / "runs" / "mfeat" / "20261127-092227-0"
FIXTURE = FIXTURE_RUN / "events.jsonl"  # a real 4-epoch mfeat run, train.log_every=6
FIXED_NOW = 1_795_771_400.0  # a frozen clock for the dashboard


def fake(mode: str, events: Path | None = FIXTURE, delay: float = 0.0, seen: list | None = None):
    """A command factory for make_app: every launch runs the fake engine; `seen` collects the
    engine arguments the app asked for."""
    def command(args: list[str]) -> list[str]:
        if seen is not None:
            seen.append(list(args))
        return [sys.executable, FAKE, mode, *([str(events), str(delay)] if events else [])]
    return command


def recorded_run(runs: Path, stamp: str = "20261127-092227-0", *, checkpoint: bool = False,
                 summary: bool = True, scale_alpha: float = 1.0, cut: int | None = None) -> Path:
    """A run folder under `runs` made from the recorded mfeat events, its run_dir pointing there."""
    folder = runs / "mfeat" / stamp
    folder.mkdir(parents=True)
    lines = []
    for line in FIXTURE.read_text().splitlines()[:cut]:
        ev = json.loads(line)
        if "run_dir" in ev:
            ev["run_dir"] = str(folder)
        if ev.get("type") == "step":
            ev["alpha"] *= scale_alpha
        lines.append(json.dumps(ev))
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    if summary:
        last = json.loads(lines[-1])
        (folder / "summary.json").write_text(json.dumps(
            {"status": last["status"], "recipe_name": "mfeat", "best": last["best"], "epochs_done": 4}))
    if checkpoint:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "last.pt").write_bytes(b"not a real checkpoint")
    return folder


async def until(pilot, condition, timeout: float = 15.0, what: str = "condition") -> None:
    waited = 0.0
    while not condition():
        if waited > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
        waited += 0.05


READ_GROUPS = ("history-read", "sweeps-read", "sweep-read", "recipes-read", "recorded-read")  # the reading workers


async def reads_done(pilot) -> None:
    """Until the files the dashboard is reading in its workers are read and shown (a live run's
    worker is not waited for)."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete([w for w in pilot.app.workers if w.group in READ_GROUPS])
    await pilot.pause()


def copy_recipes(dest: Path) -> Path:
    shutil.copytree(ROOT / "recipes", dest)
    return dest


def screen_text(app) -> str:
    """The app's screen as plain text, as a terminal of its size shows it."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def row_by_column(table, i: int) -> dict[str, str]:
    """Row `i` of a DataTable as {column key: cell text}: the columns a table shows depend on
    its width."""
    return {str(c.key.value): str(v) for c, v in zip(table.ordered_columns, table.get_row_at(i))}
