"""`lfm run`: the engine under a Rich live view on a terminal, as lines elsewhere (lines.py:
plain text or JSON, for log files), then a summary table."""
from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import deque
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from engine.contract import gaps, layout
from engine.contract import folder_lock
from engine.contract.events import Event, Log, LogLine, RunStarted
from engine.contract.outcome import (EXIT_CANCELLED, EXIT_OK, STATUS_EXIT, client_exit, command, resume_command,
                            tensorboard_command)
from lfm_tui.client import EngineClient, Exited
from engine.contract.run_state import RunState, preparing_text
from lfm_tui.lines import JsonView, PlainView, hms

LOG_FORMATS = ("auto", "live", "plain", "json")  # auto: live on a terminal, plain lines elsewhere
WIDE = 160  # columns of a console that is not a terminal: tables up to this wide, text never cut


def make_console() -> Console:
    """The console on stdout: the terminal's width on a terminal; in a file or a pipe, text is
    never wrapped or cut and nothing but plain text is written."""
    console = Console()
    return console if console.is_terminal else Console(width=WIDE, soft_wrap=True)


def make_view(console: Console, log_format: str = "auto", quiet: bool = False):
    """What shows the run while it runs: the live panel, plain lines or JSON lines."""
    if log_format == "auto":
        log_format = "live" if console.is_terminal else "plain"
    if log_format == "json":
        return JsonView(console.file, quiet)
    if log_format == "plain" or quiet:
        return PlainView(console.file, quiet)
    return LiveView(console)


def _cell(v) -> str:
    return f"{v:.2f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "-"


def metrics_table(title: str, fused: dict, modalities: dict, gap: float | None,
                  best: dict | None = None, split: str = "val") -> Table:
    t = Table(title=Text(title), title_justify="left", expand=False)
    for col in ("", "ACC", "MAP", "macro-F1"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row("fused", *(_cell(fused.get(k)) for k in ("acc", "map", "f1")), style="bold")
    for m, v in modalities.items():
        t.add_row(Text(str(m)), *(_cell(v.get(k)) for k in ("acc", "map", "f1")))
    if gap is not None:
        t.add_row(gaps.accuracy(split), f"{gap:.2f}", "", "")
    if best:
        t.caption = f"best validation ACC {_cell(best.get('acc'))} at epoch {best.get('epoch')}"
    return t


def timing(elapsed: float, done: float, start: float) -> str:
    """`elapsed H:MM:SS  ETA H:MM:SS`: the time to the last epoch at the pace since the run
    (or its resume) started; `done` and `start` are the shares of the epochs done now and then."""
    text = f"elapsed {hms(elapsed)}"
    if done >= 1:
        return text + "  epochs done"
    if done > start and elapsed > 0:
        return text + f"  ETA {hms(elapsed * (1 - done) / (done - start))}"
    return text + "  ETA …"


class LiveView:
    def __init__(self, console: Console, clock=time.monotonic):
        self.console, self.clock = console, clock
        self.state = RunState()
        self.logs: deque[str] = deque(maxlen=8)
        # the time is the run's, on the epochs' row (a task's own elapsed time stops at its first
        # completion: the steps' row completes every epoch)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[timing]}"), console=console, expand=False)
        self.epoch_task = self.progress.add_task("epochs", total=None, timing="")
        self.step_task = self.progress.add_task("steps ", total=None, timing="")
        self.began: float | None = None   # when this process saw run_started
        self.start_share = 0.0            # the share of the epochs done then (a resumed run)

    def share_done(self) -> float:
        """The share of the run's steps done (the reducer's count)."""
        return self.state.progress

    def notice(self, text: str) -> None:
        self.console.print(Text(text, style="yellow"))

    def handle(self, item) -> None:
        if isinstance(item, LogLine):
            if item.text.strip():
                self.logs.append(item.text[:200])
            return
        if not isinstance(item, Event):
            return
        self.state.apply(item)
        s = self.state
        if s.epochs:
            self.progress.update(self.epoch_task, total=s.epochs, completed=s.epochs_done)
            self.progress.update(self.step_task, total=s.steps_per_epoch, completed=s.step)
        if isinstance(item, RunStarted):
            self.began, self.start_share = self.clock(), self.share_done()
        elif isinstance(item, Log):
            self.logs.append(item.message)

    def __rich__(self):
        s = self.state
        if self.began is not None:
            self.progress.update(self.epoch_task, timing=timing(self.clock() - self.began, self.share_done(),
                                                                self.start_share))
        head = Text.assemble(("LFM ", "bold magenta"), (s.recipe_name or "starting…", "bold"),
                             f"  {s.dataset or ''}  {' + '.join(s.modalities)}  ", (s.run_dir or "", "dim"))
        loss = s.last_losses
        stats = Text()
        if loss:
            stats.append("loss " + "  ".join(f"{k} {v:.4f}" for k, v in loss.items()))
            stats.append(f"   alpha {s.alpha:.4f}   lr {s.lr:.2e}   {s.samples_per_s:.0f} samples/s")
        parts = [head, self.progress, stats]
        if s.preparing and not s.status:
            parts.insert(1, Text(preparing_text(s.preparing), style="yellow"))
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
    t = Table(title=Text(title), title_justify="left")
    for i, h in enumerate(head):
        t.add_column(Text(h), justify="left" if i == 0 else "right")
    for b in body:
        t.add_row(*map(Text, b))
    fit(console, t)
    console.print(t)


def fit(console: Console, table: Table) -> None:
    """A terminal wraps a table's cells to its width; a console in a file or a pipe is widened
    to the table's, so that each row stays one line."""
    if not console.is_terminal:
        wide = console.options.update_width(10 * WIDE)
        console.width = max(console.width, console.measure(table, options=wide).maximum)


def summary(console: Console, state: RunState, code: int, note: str | None = None) -> None:
    """The test metrics, where the run is, and how it ended; every path and command as plain
    text (never markup) and every command quoted for a shell."""
    console.print()
    if state.test:
        t = state.test
        console.print(f"[bold]test[/], best-on-validation checkpoint (epoch {t['epoch']}):")
        console.print(metrics_table("", t["fused"], t["modalities"], t["gap"], split="test"))
        gap = t.get("modality_gap")
        console.print(f"{gaps.feature('test', t.get('samples'))} {gap if gap is None else format(gap, '.4f')}   "
                      f"per-modality scores: {escape(str(t.get('unimodal') or 'split_head'))}")
    run_dir = state.run_dir
    if run_dir:
        console.print(Text.assemble("run folder   ", (run_dir, "bold")), soft_wrap=True)
        console.print(Text.assemble("TensorBoard  ", (tensorboard_command(run_dir), "bold"),
                                    f"  (or: {command('tensorboard', '--logdir', layout.tensorboard_dir(run_dir))})"),
                      soft_wrap=True)
    if code == EXIT_CANCELLED:
        console.print(Text.assemble(("stopped", "yellow"), f"{': ' + note if note and not state.status else ''}"))
    elif code != EXIT_OK:
        console.print(Text.assemble(("failed: ", "red"), state.error or note or f"the engine exited with status {code}"))
    elif note:
        console.print(Text(f"note: {note}", style="dim"))
    if run_dir and code != EXIT_OK and layout.resumable(Path(run_dir)):
        console.print(Text.assemble(("resume with ", "yellow" if code == EXIT_CANCELLED else ""),
                                    (resume_command(run_dir), "bold")), soft_wrap=True)


def reported(state: RunState) -> dict | None:
    """What the engine said of how the run ended (its run_finished), or None."""
    if state.status not in STATUS_EXIT:
        return None
    return {"status": state.status, "exit_code": state.exit_code}


def settle(state: RunState, code: int, stop_sent: bool) -> tuple[int, str | None]:
    """`lfm`'s exit status (engine/contract/outcome.py) for the engine's report and exit `code`; the
    temporary files of a writer that was killed are removed once no process holds the folder."""
    status, exit_code, note = client_exit(reported(state), code, stop_sent)
    if state.run_dir and Path(state.run_dir).is_dir() and folder_lock.in_use(Path(state.run_dir)) is None:
        layout.remove_temporaries(Path(state.run_dir))
    return exit_code, note


def commands(state: RunState, code: int) -> dict:
    """The commands the summary prints: TensorBoard on the run, and how to resume it."""
    run_dir = state.run_dir
    resume = run_dir and code != EXIT_OK and layout.resumable(Path(run_dir))
    return {"tensorboard": tensorboard_command(run_dir) if run_dir else None,
            "resume": resume_command(run_dir) if resume else None}


async def _run(client: EngineClient, console: Console, raw_events: bool, view) -> int:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()

    def on_sigint() -> None:
        sent = client.request_stop()
        if sent == "SIGINT":
            view.notice("stopping after the current step (Ctrl-C again to terminate)…")
        elif sent != "none":
            view.notice(f"sent {sent}")

    loop.add_signal_handler(signal.SIGINT, on_sigint)
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
                elif item.stream == "stderr":  # the engine's stderr stays on stderr, as text
                    print(item.text, file=sys.stderr, flush=True)
                else:
                    print(item.text, flush=True)
            return settle(view.state, code, bool(client.stop_sent))[0]
        live = isinstance(view, LiveView)
        shower = Live(view, console=console, refresh_per_second=4, transient=False) if live else nullcontext()
        with shower as shown:
            async for item in client.events():
                if isinstance(item, Exited):
                    code = item.code
                    continue
                if isinstance(item, LogLine) and item.stream == "stderr":
                    stderr_tail.append(item.text)
                view.handle(item)
            if isinstance(view, PlainView):
                view.flush()
            if shown is not None:
                shown.refresh()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    # the engine's own report first: a world whose rank aborted after a finished run still finished
    code, note = settle(view.state, code, bool(client.stop_sent))
    unreported = code not in (EXIT_OK, EXIT_CANCELLED) and reported(view.state) is None
    if isinstance(view, JsonView):
        view.result(code, note, commands(view.state, code), list(stderr_tail) if unreported else [],
                    time.perf_counter() - started)
        return code
    # plain lines showed the engine's stderr as it came, unless quiet
    shown_already = isinstance(view, PlainView) and not view.quiet
    if unreported and stderr_tail and not shown_already:
        # The engine stopped before it could report (bad input, crash at start-up): show why.
        console.print(Text("\n".join(l for l in stderr_tail if "Loading weights" not in l)))
    summary(console, view.state, code, note)
    return code


def run_headless(engine_args: list[str], raw_events: bool = False, console: Console | None = None,
                 command: list[str] | None = None, launch=None, env: dict | None = None,
                 log_format: str = "auto", quiet: bool = False) -> int:
    """Runs the engine; shows it by `log_format` (LOG_FORMATS), `quiet`: only the result."""
    console = console or make_console()
    client = EngineClient(engine_args, command=command, launch=launch, env=env)
    started = time.perf_counter()
    view = make_view(console, log_format, quiet)
    code = asyncio.run(_run(client, console, raw_events, view))
    if not raw_events and not isinstance(view, JsonView):
        console.print(f"[dim]wall time {time.perf_counter() - started:.1f} s, exit status {code}[/]")
    return code
