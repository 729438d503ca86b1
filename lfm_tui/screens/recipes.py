"""Recipes: pick one, type overrides (checked as you type), Enter launches it."""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, ListItem, ListView, Static

from lfm_tui.catalog import RecipeInfo, list_recipes, read_recipe, split_overrides
from lfm_tui.widgets.recipe_details import RecipeDetails


class RecipesScreen(Screen):
    BINDINGS = [Binding("escape", "focus_list", "recipe list"),
                Binding("o", "focus_overrides", "overrides")]

    def __init__(self) -> None:
        super().__init__()
        self.recipes: list[RecipeInfo] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="recipes-body"):
            yield ListView(id="recipe-list")
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
        self.recipes = list_recipes(self.app.recipes_dir)
        lv = self.query_one("#recipe-list", ListView)
        lv.clear()
        lv.extend(ListItem(Label(Text(r.name))) for r in self.recipes)
        lv.border_title = Text(str(self.app.recipes_dir))
        if self.recipes:
            lv.index = 0
        lv.focus()
        self.show_selected()

    @property
    def selected(self) -> RecipeInfo | None:
        i = self.query_one("#recipe-list", ListView).index
        return self.recipes[i] if i is not None and 0 <= i < len(self.recipes) else None

    def show_selected(self) -> None:
        self.query_one(RecipeDetails).show(self.selected)
        self.check()

    def check(self) -> list[str] | None:
        """The overrides typed so far, or None with the problems shown, against the selected recipe."""
        out = self.query_one("#override-check", Static)
        info = self.selected
        if info is None:
            out.update("")
            return None
        overrides, problem = split_overrides(self.query_one("#overrides", Input).value)
        problems = [problem] if problem else []
        if not problems:
            checked = read_recipe(info.path, overrides)
            problems = list(checked.problems)
        if problems:
            out.update(Text("\n".join(f"✗ {p}" for p in problems), style="red"))
            return None
        summary = "valid" + (f" with {len(overrides)} override{'s' * (len(overrides) != 1)}"
                             if overrides else "")
        out.update(Text(f"✓ {summary}: Enter launches {info.path.name}", style="green"))
        return overrides

    @on(ListView.Highlighted, "#recipe-list")
    def _highlighted(self) -> None:
        self.show_selected()

    @on(Input.Changed, "#overrides")
    def _changed(self) -> None:
        self.check()

    @on(ListView.Selected, "#recipe-list")
    @on(Input.Submitted, "#overrides")
    def launch(self) -> None:
        info = self.selected
        overrides = self.check()
        if info is None or overrides is None:
            self.app.bell()
            return
        self.app.launch_recipe(info.path, overrides)

    def action_focus_list(self) -> None:
        self.query_one("#recipe-list").focus()

    def action_focus_overrides(self) -> None:
        self.query_one("#overrides").focus()

