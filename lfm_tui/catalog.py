"""The recipes the dashboard offers: each file's header comment and what it trains, and the
check of `key=value` overrides with the recipe's own error messages."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from engine import recipe as recipes


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

    @property
    def name(self) -> str:
        return self.path.stem


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
            "alpha": alpha, "epochs": r.train.epochs}


def read_recipe(path: Path, overrides: list[str] | None = None) -> RecipeInfo:
    try:
        header = recipes.header_comment(path)
    except (OSError, UnicodeDecodeError) as exc:
        return RecipeInfo(path, "", problems=(f"cannot read: {exc}",))
    try:
        r = recipes.load(path, overrides or [])
    except recipes.RecipeError as exc:
        return RecipeInfo(path, header, problems=tuple(exc.problems))
    return RecipeInfo(path, header, **describe(r))


def list_recipes(folder: Path) -> list[RecipeInfo]:
    return [read_recipe(p) for p in sorted(folder.glob("*.toml"))]


def split_overrides(text: str) -> tuple[list[str], str | None]:
    """The override field's text into `key=value` items (shell-style quoting allowed)."""
    try:
        return shlex.split(text), None
    except ValueError as exc:
        return [], f"overrides: {exc}"
