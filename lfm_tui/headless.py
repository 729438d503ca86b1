"""`lfm run`: the engine under a Rich live view, then a summary table."""
from __future__ import annotations

import asyncio
import signal
import time
from collections import deque

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from engine.events import Event, LogLine
from engine.outcome import EXIT_CANCELLED, EXIT_OK, exit_for_status
from lfm_tui.client import EngineClient, Exited
from lfm_tui.state import RunState


def metrics_table(title: str, fused: dict, modalities: dict, gap: float | None,
                  best: dict | None = None) -> Table:
    t = Table(title=title, title_justify="left", expand=False)
    for col in ("", "ACC", "MAP", "macro-F1"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row("fused", *(f"{fused.get(k, float('nan')):.2f}" for k in ("acc", "map", "f1")), style="bold")
    for m, v in modalities.items():
        t.add_row(m, *(f"{v.get(k, float('nan')):.2f}" for k in ("acc", "map", "f1")))
    if gap is not None:
        t.add_row("gap (ACC)", f"{gap:.2f}", "", "")
    if best:
        t.caption = f"best validation ACC {best.get('acc', float('nan')):.2f} at epoch {best.get('epoch')}"
    return t


class LiveView:
    def __init__(self, console: Console):
        self.console = console
        self.state = RunState()
        self.logs: deque[str] = deque(maxlen=8)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, expand=False)
        self.epoch_task = self.progress.add_task("epochs", total=None)
        self.step_task = self.progress.add_task("steps ", total=None)

    def handle(self, item) -> None:
        if isinstance(item, LogLine):
            if item.text.strip():
                self.logs.append(item.text[:200])
            return
        if not isinstance(item, Event):
            return
        self.state.apply(item)
        s = self.state
        if item.type == "run_started":
            self.progress.update(self.epoch_task, total=s.epochs)
            self.progress.update(self.step_task, total=s.steps_per_epoch)
        elif item.type == "step":
            self.progress.update(self.epoch_task, completed=item["epoch"] - 1)
            self.progress.update(self.step_task, completed=item["step"])
        elif item.type == "eval" and item["split"] == "val":
            self.progress.update(self.epoch_task, completed=item["epoch"])
        elif item.type == "log":
            self.logs.append(item["message"])

    def __rich__(self):
        s = self.state
        head = Text.assemble(("LFM ", "bold magenta"), (s.recipe_name or "starting…", "bold"),
                             f"  {s.dataset or ''}  {' + '.join(s.modalities)}  ", (s.run_dir or "", "dim"))
        loss = s.last_losses
        stats = Text()
        if loss:
            stats.append("loss " + "  ".join(f"{k} {v:.4f}" for k, v in loss.items()))
            stats.append(f"   alpha {s.alpha:.4f}   lr {s.lr:.2e}   {s.samples_per_s:.0f} samples/s")
        parts = [head, self.progress, stats]
        if s.last_val:
            v = s.last_val
            parts.append(metrics_table(f"validation, epoch {v['epoch']}", v["fused"], v["modalities"],
                                       v["gap"], s.best))
        if self.logs:
            parts.append(Text("\n".join(self.logs), style="dim"))
        return Panel(Group(*parts), border_style="magenta")


def print_table(console: Console, rows, title: str) -> None:
    """A comparison table (lfm_tui/compare.py rows) as a Rich table."""
    from lfm_tui import compare

    head, body = compare.table_rows(rows)
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(head):
        t.add_column(h, justify="left" if i == 0 else "right")
    for b in body:
        t.add_row(*b)
    console.print(t)


def summary(console: Console, state: RunState, code: int) -> None:
    console.print()
    if state.test:
        t = state.test
        console.print(f"[bold]test[/], best-on-validation checkpoint (epoch {t['epoch']}):")
        console.print(metrics_table("", t["fused"], t["modalities"], t["gap"]))
        console.print(f"modality-gap distance {t['modality_gap']:.4f}   "
                      f"per-modality scores: {t.get('unimodal', 'split_head')}")
    if state.run_dir:
        console.print(f"run folder   [bold]{state.run_dir}[/]")
        console.print(f"TensorBoard  [bold]lfm tensorboard {state.run_dir}[/]"
                      f"  (or: tensorboard --logdir {state.run_dir}/tb)")
    if state.status == "cancelled" or code == EXIT_CANCELLED:
        console.print(f"[yellow]stopped[/]: resume with [bold]lfm run --resume {state.run_dir}[/]")
    elif state.status == "failed" or code not in (EXIT_OK, EXIT_CANCELLED):
        if state.error:
            console.print(f"[red]failed:[/] {state.error}")
        else:
            console.print(f"[red]the engine exited with status {code}[/]")


async def _run(client: EngineClient, console: Console, raw_events: bool) -> int:
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        sent = client.request_stop()
        if sent == "SIGINT":
            console.print("[yellow]stopping after the current step (Ctrl-C again to terminate)…[/]")
        elif sent != "none":
            console.print(f"[red]sent {sent}[/]")

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    view = LiveView(console)
    code = 1
    stderr_tail: deque[str] = deque(maxlen=30)
    try:
        if raw_events:
            async for item in client.events():
                if isinstance(item, Exited):
                    code = item.code
                elif isinstance(item, Event):
                    print(item.to_json(), flush=True)
                    view.state.apply(item)
                elif item.stream == "stderr":
                    console.print(Text(item.text, style="dim"), highlight=False, stderr=True)
                else:
                    print(item.text, flush=True)
            return code
        with Live(view, console=console, refresh_per_second=4, transient=False) as live:
            async for item in client.events():
                if isinstance(item, Exited):
                    code = item.code
                    continue
                if isinstance(item, LogLine) and item.stream == "stderr":
                    stderr_tail.append(item.text)
                view.handle(item)
            live.refresh()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    code = exit_for_status(view.state.status, code)  # torchrun reports its own status for a stopped world
    if code not in (EXIT_OK, EXIT_CANCELLED) and not view.state.status and stderr_tail:
        # The engine stopped before it could report (bad input, crash at start-up): show why.
        console.print(Text("\n".join(l for l in stderr_tail if "Loading weights" not in l)))
    summary(console, view.state, code)
    return code


def run_headless(engine_args: list[str], raw_events: bool = False, console: Console | None = None,
                 command: list[str] | None = None, launch=None) -> int:
    console = console or Console()
    client = EngineClient(engine_args, command=command, launch=launch)
    started = time.perf_counter()
    code = asyncio.run(_run(client, console, raw_events))
    if not raw_events:
        console.print(f"[dim]wall time {time.perf_counter() - started:.1f} s, exit status {code}[/]")
    return code
