"""The recipes the dashboard offers: each file's header comment and what it trains, whether the
data it reads from disk is there (`data.root`), and the check of `key=value` overrides with the
recipe's own error messages."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from engine.contract import recipe as recipes
from engine.contract.data_folders import missing_data, prepare_commands
from lfm_tui import limits


@dataclass
class RecipeInfo:
    path: Path
    header: str
    dataset: str = ""
    modalities: tuple[str, ...] = ()
    method: str = ""
    alpha: str = ""
    epochs: int = 0
    problems: tuple[str, ...] = ()
    data_root: str = ""
    missing_data: str | None = None  # why data.root does not hold the dataset, when it does not
    overrides: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def prepare(self) -> list[str]:
        """The `lfm prepare` commands for the recipe's dataset folder."""
        return prepare_commands(self.dataset, self.data_root)

    def refusal(self) -> str:
        """Why the recipe cannot be launched as it is (its data is not on disk), in one line."""
        return (f"{self.name} needs its data on disk: {self.missing_data}; set data.root to the "
                f"{self.dataset} folder (o: data.root=PATH) and prepare it: {self.prepare[1]}")


def describe(r: recipes.Recipe) -> dict:
    method = getattr(r, "method", None)
    method = getattr(method, "name", method) or "lfm"
    a = r.alpha
    alpha = a.strategy
    if a.strategy in ("constant", "stepwise"):
        alpha += f" (p = {a.value:g})"
    elif a.strategy == "polynomial":
        alpha += " (" + ", ".join(f"{c:g}" for c in a.coefficients) + ")"
    return {"dataset": r.data.name, "modalities": tuple(r.data.modalities), "method": str(method),
            "alpha": alpha, "epochs": r.train.epochs, "data_root": r.data.root,
            "missing_data": missing_data(r.data.name, r.data.root)}


def read_recipe(path: Path, overrides: list[str] | None = None) -> RecipeInfo:
    try:
        header = recipes.header_comment(path)
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, past the size of a recipe
        return RecipeInfo(path, "", problems=(f"cannot read: {exc}",))
    try:
        r = recipes.load(path, overrides or [])
    except recipes.RecipeError as exc:
        return RecipeInfo(path, header, problems=tuple(exc.problems))
    return RecipeInfo(path, header, overrides=tuple(overrides or ()), **describe(r))


def list_recipes(folder: Path, limit: int | None = None) -> list[RecipeInfo]:
    """The first `limit` (limits.RECIPES_MAX) recipe files of `folder` by name, read."""
    limit = limits.RECIPES_MAX if limit is None else limit
    return [read_recipe(p) for p in sorted(folder.glob("*.toml"))[:max(0, limit)]]


def split_overrides(text: str) -> tuple[list[str], str | None]:
    """The override field's text into `key=value` items (shell-style quoting allowed)."""
    try:
        return shlex.split(text), None
    except ValueError as exc:
        return [], f"overrides: {exc}"
