"""What a recipe trains: its header comment, dataset, modalities, method and alpha strategy, with
the overrides typed applied; for a dataset read from disk, its folder and what it must hold."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.contract.data_folders import LAYOUTS
from lfm_tui.catalog import RecipeInfo


def reflow(comment: str) -> str:
    """Join the comment's wrapped prose lines into paragraphs; keep indented lines (commands)."""
    out: list[str] = []
    for line in comment.splitlines():
        prose = line and not line[0].isspace()
        if prose and out and out[-1] and not out[-1][0].isspace():
            out[-1] += " " + line
        else:
            out.append(line)
    return "\n".join(out)


def data_rows(grid: Table, info: RecipeInfo) -> None:
    """Where a dataset read from disk is, whether it is there, and how to prepare it."""
    if info.missing_data is None:
        grid.add_row("data", Text.assemble(("✓ ", "green"), info.data_root))
        return
    grid.add_row("data", Text(f"✗ needs data on disk: {info.missing_data}", style="bold yellow"))
    grid.add_row("must hold", Text(LAYOUTS[info.dataset]))
    grid.add_row("prepare", Text("\n".join(info.prepare)))


class RecipeDetails(Static):
    def show(self, info: RecipeInfo | None) -> None:
        if info is None:
            self.update(Text("no recipes in this folder", style="dim"))
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        if info.dataset:
            grid.add_row("dataset", Text(info.dataset))  # the recipe's text, never markup
            grid.add_row("modalities", Text(" + ".join(info.modalities)))
            grid.add_row("method", Text(info.method))
            grid.add_row("alpha", Text(info.alpha))
            grid.add_row("epochs", str(info.epochs))
            if info.overrides:
                grid.add_row("overrides", Text(" ".join(info.overrides), style="cyan"))
            if info.dataset in LAYOUTS:
                data_rows(grid, info)
        else:
            grid.add_row("invalid", Text("\n".join(info.problems), style="red"))
        # the summary before the header comment: in a short terminal it is what stays in view
        self.update(Group(Text(str(info.path), style="bold"), grid, Text(""),
                          Text(reflow(info.header) or "(no header comment)", style="italic")))
