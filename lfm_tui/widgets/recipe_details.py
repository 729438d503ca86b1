"""What a recipe trains: its header comment, dataset, modalities, method and alpha strategy."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

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
        else:
            grid.add_row("invalid", Text("\n".join(info.problems), style="red"))
        self.update(Group(Text(str(info.path), style="bold"), Text(reflow(info.header) or "(no header comment)",
                                                                     style="italic"), Text(""), grid))
