"""The run header: recipe, dataset, modalities, progress, elapsed and remaining time, speed."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from lfm_tui.session import RunSession

STATUS_STYLE = {"running": "bold green", "starting": "bold yellow", "stopping": "bold yellow",
                "ok": "bold cyan", "cancelled": "bold yellow", "failed": "bold red",
                "incomplete": "bold yellow"}
STATUS_WORD = {"ok": "finished", "cancelled": "stopped"}


def clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def bar(fraction: float, width: int = 20) -> str:
    cells = fraction * width
    full = int(cells)
    part = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)] if full < width else ""
    return ("█" * full + part).ljust(width)


class RunHeader(Static):
    """Three lines: who and what; where it is; what the user can do next."""

    def show(self, session: RunSession | None) -> None:
        if session is None:
            self.update(Text("no run yet: pick a recipe and press Enter", style="dim"))
            return
        s = session.state
        status = session.status
        t = Text()
        t.append(f" {STATUS_WORD.get(status, status)} ", style=f"reverse {STATUS_STYLE.get(status, 'bold')}")
        t.append(f"  {s.recipe_name or session.label}", style="bold")
        if s.dataset:
            t.append(f"  {s.dataset}: {' + '.join(s.modalities)}")
        if session.replay:
            t.append("  (from its run folder, live)" if session.following else "  (recorded)", style="dim")
        if s.run_name:
            t.append(f"  {s.run_name}", style="dim")
        t.append("\n")
        frac = session.progress()
        if s.epochs:
            t.append(f"epoch {s.epoch}/{s.epochs}  step {s.step}/{s.steps_per_epoch}  ")
            t.append(bar(frac), style="green")
            t.append(f" {frac * 100:3.0f}%  ")
        else:
            t.append("waiting for the engine to start the run  " if session.live
                     else "no progress reported  ", style="dim")
        t.append(f"elapsed {clock_text(session.elapsed())}")
        if session.live:
            t.append(f"  remaining {clock_text(session.remaining())}")
        t.append("\n")
        if s.global_step:
            t.append(f"{s.samples_per_s:,.0f} samples/s  alpha {s.alpha:.4f}  lr {s.lr:.1e}   ")
        if session.live and session.stop_note:
            t.append(session.stop_note, style="yellow")
        elif status == "failed" and s.error:
            t.append(f"failed: {s.error}", style="red")
        elif session.resumable():
            t.append("r resumes from the checkpoint   ", style="yellow")
        elif session.resumed_as is not None:  # its tab follows the run; the panels stay as it stopped
            t.append(f"resumed: the whole run is in the tab {session.latest().label}   ", style="yellow")
        if s.run_dir and not session.live and status != "failed":
            t.append(session.tensorboard_command(), style="dim")
        self.update(t)
