"""The run header: recipe, dataset, modalities, progress, elapsed and remaining time, speed."""
from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import Static

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


def fitted(command: str, room: int) -> str:
    """`lfm tensorboard FOLDER` within `room` characters: the folder's start left out (`…`), its
    last parts (the run's name) kept."""
    if len(command) <= room:
        return command
    head, _, path = command.partition(" tensorboard ")
    keep = max(8, room - len(head) - len(" tensorboard …"))
    return f"{head} tensorboard …{path[-keep:]}"


@dataclass(frozen=True)
class HeaderView:
    """What the header shows of a run, as plain values."""
    status: str
    title: str                          # the recipe's name, else the run's label
    dataset: str = ""
    modalities: tuple[str, ...] = ()
    source: str = ""                    # "recorded", "from its run folder, live", or "" for an engine
    run_name: str = ""
    live: bool = False
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    progress: float = 0.0
    elapsed: float = 0.0
    remaining: float | None = None
    global_step: int = 0
    samples_per_s: float = 0.0
    alpha: float = 0.0
    lr: float = 0.0
    note: str = ""                      # what the user can do next, or what went wrong
    note_style: str = ""
    command: str = ""                   # the TensorBoard command, shown once the run has ended
    preparing: str = ""                 # what the engine prepares before the run starts, how far


def header_text(v: HeaderView, width: int = 10_000) -> Text:
    """The header's three lines of a run, `width` columns wide: who and what; where it is; the
    speed, the note and the TensorBoard command."""
    t = Text()
    t.append(f" {STATUS_WORD.get(v.status, v.status)} ", style=f"reverse {STATUS_STYLE.get(v.status, 'bold')}")
    t.append(f"  {v.title}", style="bold")
    if v.dataset:
        t.append(f"  {v.dataset}: {' + '.join(v.modalities)}")
    if v.source:
        t.append(f"  ({v.source})", style="dim")
    if v.run_name:
        t.append(f"  {v.run_name}", style="dim")
    t.append("\n")
    if v.epochs:
        t.append(f"epoch {v.epoch}/{v.epochs}  step {v.step}/{v.steps_per_epoch}  ")
        t.append(bar(v.progress), style="green")
        t.append(f" {v.progress * 100:3.0f}%  ")
    elif v.live and v.preparing:
        t.append(f"{v.preparing}  ", style="yellow")
    else:
        t.append("waiting for the engine to start the run  " if v.live
                 else "no progress reported  ", style="dim")
    t.append(f"elapsed {clock_text(v.elapsed)}")
    if v.live:
        t.append(f"  remaining {clock_text(v.remaining)}")
    t.append("\n")
    t.append_text(last_line(v, width))
    return t


def last_line(v: HeaderView, width: int) -> Text:
    """Speed, alpha and lr, then the note and the TensorBoard command. In a narrow header the
    note and the command come first: the speed is left out, then the command's folder
    shortened (`t` shows it whole), so that the note is never cut."""
    stats = f"{v.samples_per_s:,.0f} samples/s  alpha {v.alpha:.4f}  lr {v.lr:.1e}   " if v.global_step else ""
    if len(stats) + len(v.note) + len(v.command) > width:
        stats = ""
    t = Text(stats)
    if v.note:
        t.append(v.note, style=v.note_style)
    if v.command:
        t.append(fitted(v.command, width - len(v.note)), style="dim")
    return t


class RunHeader(Static):
    """Three lines: who and what; where it is; what the user can do next."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.view: HeaderView | None = None

    def show_clock(self, elapsed: float, remaining: float | None) -> None:
        """The time lines only: elapsed and remaining move with the clock, between events."""
        if self.view is not None and (elapsed, remaining) != (self.view.elapsed, self.view.remaining):
            self.show(replace(self.view, elapsed=elapsed, remaining=remaining))

    def show(self, v: HeaderView | None) -> None:
        self.view = v
        if v is None:
            self.update(Text("no run yet: pick a recipe and press Enter", style="dim"))
            return
        self.update(header_text(v, self.content_size.width or 10_000))  # before the first layout: no limit

    def on_resize(self) -> None:
        if self.view is not None:
            self.show(self.view)
