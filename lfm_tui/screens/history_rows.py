"""The history's rows: a run's cells, a sweep's or seed series' cells (what its runs add up to),
the overrides shortened to their column; and the editing of a run's tags or note (a dialog)."""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from engine.contract import annotations
from engine.contract.errors import UserError
from lfm_tui.history import RunInfo
from lfm_tui.run_index import Group
from lfm_tui.widgets.fit import Step, shortened
from lfm_tui.widgets.run_header import clock_text

COLUMNS = (" ", "date", "recipe", "status", "seed", "method", "alpha", "overrides", "val ACC", "test ACC", "time",
           "epochs", "tags, note")
SORTABLE = ("date", "recipe", "status", "seed", "method", "val ACC", "test ACC", "time", "epochs")
OVERRIDES_WIDTH = 24  # characters of the overrides column; the hint under the table shows them (two rows at most)
MARKS_WIDTH = 24      # characters of the tags and note column
NAME_WIDTH = 14       # a recipe or method name shortened to this in a narrow table


def short_date(cell: Text) -> Text:
    """`2026-11-28 10:00:00` as `11-28 10:00` (a run under a group keeps its indent)."""
    indent = len(cell.plain) - len(cell.plain.lstrip())
    return cell[:indent] + cell[indent + 5:indent + 16]


# A narrow table (80 columns): what goes first, so that status, val ACC and test ACC stay whole
# (the hint under the table shows the highlighted run's overrides, tags and note, in two rows at most).
NARROW: tuple[Step, ...] = (
    ("tags, note", None, None), ("overrides", shortened(16), None), ("overrides", None, None), ("alpha", None, None), ("seed", None, None),
    ("date", short_date, None), ("epochs", None, None), ("recipe", shortened(NAME_WIDTH), None),
    ("method", shortened(NAME_WIDTH), None), ("method", None, None), ("time", None, None), ("date", None, None))
STATUS_STYLE = {"ok": "cyan", "cancelled": "yellow", "failed": "red", "incomplete": "yellow", "running": "bold green"}


def status_style(status: str) -> str:
    return "red" if status.startswith("unreadable") else STATUS_STYLE.get(status, "")


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def short_overrides(text: str) -> str:
    """`train.epochs=4 optim.lr=0.01` as `epochs=4 lr=0.01` (the last part of each key, where
    that names one key), cut to the column's width."""
    pairs = [p.partition("=") for p in text.split()]
    tails = [k.rsplit(".", 1)[-1] for k, _, _ in pairs]
    out = " ".join(f"{t if tails.count(t) == 1 else k}={v}" for t, (k, _, v) in zip(tails, pairs))
    return cut(out, OVERRIDES_WIDTH)


def marks(r: RunInfo) -> str:
    note = " ".join(r.note.split())
    return "  ".join(x for x in (" ".join(f"#{t}" for t in r.tags), note) if x)


def at_most(text: Text, width: int, rows: int, console) -> Text:
    """`text` wrapped to `width` cells in no more than `rows` rows, the last ending in `…`
    where there was more."""
    lines = text.wrap(console, max(width, 1))
    if len(lines) > rows:
        lines = lines[:rows]
        last = lines[-1]
        last.append("…")
        last.truncate(max(width, 1), overflow="ellipsis")
    return Text("\n").join(lines)


def tensorboard_line(command: str, marked: int, width: int) -> Text:
    """The hint's last line in `width` cells: the TensorBoard command and how many runs are
    marked, its label where there is room for it too; where the two do not fit one line, the
    count first and the command after it, whole (wrapped, so that it can still be copied)."""
    count = f"{marked} marked"
    for label, gap in (("TensorBoard: ", "    "), ("", "  ")):
        if len(label) + len(command) + len(gap) + len(count) <= width or width <= 0:
            return Text.assemble((label, "bold"), command, (gap + count, "dim"))
    return Text.assemble((count, "dim"), "  ", command)


def compare_notice(marked: int) -> str:
    """What the history says after `c` with fewer than two runs marked, as runs are marked."""
    if marked >= 2:
        return f"{marked} marked: c compares them"
    return f"mark two or more runs with space, then press c ({marked} marked)"


def _acc(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def run_cells(r: RunInfo, marked: bool, indent: str = "") -> list:
    """A run's row; folder names and file contents are text, never markup."""
    return ["●" if marked else " ", Text(indent + r.date), Text(r.recipe), Text(r.status, style=status_style(r.status)),
            "" if r.seed is None else str(r.seed), Text(r.method), Text(r.alpha), Text(short_overrides(r.overrides)),
            _acc(r.best_acc), _acc(r.test_acc), "" if r.seconds is None else clock_text(r.seconds),
            "" if r.epochs_done is None else str(r.epochs_done), Text(cut(marks(r), MARKS_WIDTH))]


def group_status(g: Group) -> str:
    """`running` while one of its runs runs, else the status its runs share, else how many
    finished (`3/4 ok`)."""
    statuses = [r.status for r in g.runs]
    if "running" in statuses:
        return "running"
    if len(set(statuses)) == 1:
        return statuses[0]
    return f"{statuses.count('ok')}/{len(statuses)} ok"


def group_cells(g: Group, expanded: bool, marked: int) -> list:
    """A sweep's or series' row: its newest run's date, the best of its runs' ACCs, their time."""
    best = [r.best_acc for r in g.runs if r.best_acc is not None]
    test = [r.test_acc for r in g.runs if r.test_acc is not None]
    seconds = [r.seconds for r in g.runs if r.seconds is not None]
    status = group_status(g)
    name = g.name.rsplit("/", 1)[-1]
    return ["●" if marked else ("▾" if expanded else "▸"), Text(g.runs[0].date), Text(g.runs[0].recipe),
            Text(status, style=status_style(status)), "", Text(f"{g.kind}, {len(g.runs)} runs", style="bold"),
            "", Text(cut(name, OVERRIDES_WIDTH)), _acc(max(best) if best else None),
            _acc(max(test) if test else None), clock_text(sum(seconds)) if seconds else "", "", ""]


def table_rows(index, expanded: set[str], marked: set[str], all_open: bool) -> tuple[list, list[str], list[list]]:
    """What each row of the table shows (a run, or a group with its runs under it when open),
    its key and its cells."""
    rows: list[RunInfo | Group] = []
    keys: list[str] = []
    cells: list[list] = []
    for item in index.items():
        if isinstance(item, Group):
            open_ = item.name in expanded or all_open
            rows.append(item)
            keys.append(f"group:{item.name}")
            cells.append(group_cells(item, open_, sum(str(r.path) in marked for r in item.runs)))
            for r in item.runs if open_ else ():
                rows.append(r)
                keys.append(str(r.path))
                cells.append(run_cells(r, str(r.path) in marked, "  "))
        else:
            rows.append(item)
            keys.append(str(item.path))
            cells.append(run_cells(item, str(item.path) in marked))
    return rows, keys, cells


class AnnotateDialog(ModalScreen[str | None]):
    """One line of text to edit (a run's tags, or its note): enter keeps it, escape leaves it."""
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, value: str, placeholder: str) -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="annotate", classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="annotate-input")
            yield Static(Text("enter saves, escape leaves it as it was", style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Annotating:
    """`t` and `n` of the history (a Screen mixin): the highlighted run's tags or note edited in
    a dialog, written into its run folder (engine/contract/annotations.py), the list read again."""

    def action_tags(self) -> None:
        r = self.highlighted
        if isinstance(r, RunInfo):
            self.app.push_screen(AnnotateDialog(f"tags of {r.path} (separated by spaces)", " ".join(r.tags),
                                                "e.g. baseline paper"),
                                 lambda text: self._annotate(r, tags=text))

    def action_note(self) -> None:
        r = self.highlighted
        if isinstance(r, RunInfo):
            self.app.push_screen(AnnotateDialog(f"note on {r.path}", r.note, "what this run is for"),
                                 lambda text: self._annotate(r, note=text))

    def _annotate(self, r: RunInfo, tags: str | None = None, note: str | None = None) -> None:
        """The tags or note written into the run folder (a small file, written whole and synced
        to disk: in a worker, off the event loop), then the list read again."""
        if tags is not None or note is not None:
            self._write_notes(r, tags, note)

    @work(thread=True, exit_on_error=False, group="history-write")
    def _write_notes(self, r: RunInfo, tags: str | None, note: str | None) -> None:
        try:
            if tags is not None:
                wanted = list(dict.fromkeys(tags.split()))
                annotations.tag(r.path, add=wanted, remove=[t for t in r.tags if t not in wanted])
            else:
                annotations.set_note(r.path, note or "")
        except (UserError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self.reload)
