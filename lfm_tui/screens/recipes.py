"""Recipes: pick one, type overrides (checked as you type), Enter launches it. A recipe whose
dataset is read from disk and whose `data.root` does not hold it is marked, and not launched."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static

from lfm_tui.catalog import RecipeInfo, list_recipes, read_recipe, split_overrides
from lfm_tui.screens.reading import ReadsInWorkers
from lfm_tui.widgets.recipe_details import RecipeDetails


def list_label(r: RecipeInfo) -> Text:
    """The recipe's name, marked when it cannot run as it is: invalid, or its data not on disk."""
    if r.problems:
        return Text.assemble(("✗ ", "red"), r.name)
    if r.missing_data:
        return Text.assemble(("⚠ ", "yellow"), r.name)
    return Text(r.name)


def first_runnable(recipes: list[RecipeInfo]) -> int:
    """Where the list opens: the first recipe that can run as it is (valid, its data there)."""
    return next((i for i, r in enumerate(recipes) if not r.problems and not r.missing_data), 0)


@dataclass
class RecipesRead(Message):
    """The recipes folder read (in a worker)."""
    recipes: list[RecipeInfo]


class RecipesScreen(ReadsInWorkers, Screen):
    BINDINGS = [Binding("escape", "focus_list", "recipe list"),
                Binding("o", "focus_overrides", "overrides")]

    def __init__(self) -> None:
        super().__init__()
        self.recipes: list[RecipeInfo] = []
        self.listed = False  # the folder read at least once

    def compose(self) -> ComposeResult:
        with Horizontal(id="recipes-body"):
            yield OptionList(id="recipe-list")  # one widget, not one per recipe: a faster first screen
            with Vertical(id="recipe-pane"):
                yield RecipeDetails(id="recipe-details")
                yield Input(placeholder="key=value overrides, e.g. train.epochs=3 alpha.strategy=constant",
                            id="overrides", select_on_focus=False)
                yield Static(id="override-check")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#overrides", Input).cursor_blink = self.app.cursor_blink
        self.reload()

    def reload(self) -> None:
        """The recipes folder read in a worker; the list says `reading…` meanwhile."""
        lv = self.query_one("#recipe-list", OptionList)
        lv.border_title = Text(f"{self.app.recipes_dir} (reading…)")
        self._read_recipes()

    @work(thread=True, exclusive=True, exit_on_error=False, group="recipes-read")
    def _read_recipes(self) -> None:
        try:
            recipes = list_recipes(self.app.recipes_dir)
        except OSError:  # the folder cannot be listed: no recipes (keys are not held for ever)
            recipes = []
        self.post_message(RecipesRead(recipes))

    def on_recipes_read(self, message: RecipesRead) -> None:
        self.recipes = message.recipes
        lv = self.query_one("#recipe-list", OptionList)
        lv.clear_options()
        lv.add_options([list_label(r) for r in self.recipes])
        lv.border_title = Text(str(self.app.recipes_dir))
        lv.border_subtitle = Text("⚠ no data", style="yellow") if any(r.missing_data for r in self.recipes) else ""
        if self.recipes:
            lv.highlighted = first_runnable(self.recipes)
        lv.focus()
        self.show_selected()
        if not self.listed:
            self.listed = True
            self.app.first_screen_ready()

    @property
    def selected(self) -> RecipeInfo | None:
        i = self.query_one("#recipe-list", OptionList).highlighted
        return self.recipes[i] if i is not None and 0 <= i < len(self.recipes) else None

    def show_selected(self) -> None:
        self.check()

    def check(self) -> RecipeInfo | None:
        """The selected recipe with the overrides typed so far applied (shown in the summary), or
        None with the problems shown."""
        out, details = self.query_one("#override-check", Static), self.query_one(RecipeDetails)
        info = self.selected
        if info is None:
            details.show(None)
            out.update("")
            return None
        overrides, problem = split_overrides(self.query_one("#overrides", Input).value)
        checked = info if problem else read_recipe(info.path, overrides)
        if not overrides and not problem:
            self.refresh_mark(info, checked)
        problems = [problem] if problem else list(checked.problems)
        if problems:
            details.show(info)
            out.update(Text("\n".join(f"✗ {p}" for p in problems), style="red"))
            return None
        details.show(checked)
        summary = "valid" + (f" with {len(overrides)} override{'s' * (len(overrides) != 1)}"
                             if overrides else "")
        if checked.missing_data:
            out.update(Text(f"✗ {summary}, but its data is not on disk: {checked.missing_data}\n"
                            f"  set data.root to the {checked.dataset} folder, then: {checked.prepare[1]}",
                            style="yellow"))
        else:
            out.update(Text(f"✓ {summary}: Enter launches {info.path.name}", style="green"))
        return checked

    def refresh_mark(self, listed: RecipeInfo, now: RecipeInfo) -> None:
        """The file or its data folder changed since the list was read (`lfm prepare` run
        meanwhile): the list's mark follows."""
        if (listed.problems, listed.missing_data) != (now.problems, now.missing_data) and listed in self.recipes:
            i = self.recipes.index(listed)
            self.recipes[i] = now
            self.query_one("#recipe-list", OptionList).replace_option_prompt_at_index(i, list_label(now))

    @on(OptionList.OptionHighlighted, "#recipe-list")
    def _highlighted(self) -> None:
        self.show_selected()

    @on(Input.Changed, "#overrides")
    def _changed(self) -> None:
        self.check()

    @on(OptionList.OptionSelected, "#recipe-list")
    @on(Input.Submitted, "#overrides")
    def launch(self) -> None:
        checked = self.check()
        if checked is None:
            self.app.bell()
            return
        if checked.missing_data:
            self.app.bell()  # said under the overrides, where the next keys typed check it again
            self.query_one("#override-check", Static).update(
                Text(f"✗ not launched: {checked.refusal()}", style="bold red"))
            return
        self.app.launch_recipe(checked.path, list(checked.overrides))

    def action_focus_list(self) -> None:
        self.query_one("#recipe-list").focus()

    def action_focus_overrides(self) -> None:
        self.query_one("#overrides").focus()

