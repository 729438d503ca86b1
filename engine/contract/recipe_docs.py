"""docs/recipes.md, generated from the recipe schema (engine/contract/schema.py, the `spec(...)`
metadata of engine/contract/schema_fields.py): every section and key of a recipe with its type,
default, bounds or choices, meaning and where its default comes from. The keys of each method's
own `[method.<name>]` table are on docs/methods.md (engine/contract/method_docs.py).

    python -m engine.contract.recipe_docs            write docs/recipes.md
    python -m engine.contract.recipe_docs --check    exit 1 if docs/recipes.md is stale

Standard library only.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from engine.contract.catalog import BUILTIN
from engine.contract.method_docs import _bounds, _cell, _toml
from engine.contract.method_info import FUSIONS
from engine.contract.schema import DATASETS, DISK_DATASETS, EncoderConfig, Recipe
from engine.contract.validation import NAME_MAX
from engine.contract import generated_page as page

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path("docs/recipes.md")
COMMAND = "python -m engine.contract.recipe_docs"
HEADER = "| key | type | default | bounds | meaning | default from |"

INTRO = f"""\
# Recipes

A recipe is a TOML file: one table per section below, every key optional (a key left out takes
its default). Each file in `recipes/` opens with a comment on what it trains and how to run it.
This page is generated from the recipe schema (`engine/contract/schema.py`) by `{COMMAND}`; do
not edit it by hand: `tests/test_docs_generated.py` fails when it differs from the schema.

- **Overrides**: `lfm run RECIPE key=value ...` (also `lfm validate`, `lfm sweep`, the dashboard's
  `o`) sets a dotted key; the value is read as TOML (`0.5`, `true`, `[1, 2]`, `"text"`), and a
  bare word or `[a,b]` of bare words is taken as text. An unknown key is rejected with the nearest
  known key, and every problem of a recipe is reported at once (`lfm validate`), exit status 2.
- **Numbers** must be finite (no `nan` or `inf`) and integers below 2^63; the bounds column gives
  each key's own range.
- **Methods**: `method.name` picks the method (a built-in one, or one of an installed package:
  [writing-a-method.md](writing-a-method.md)); the keys of each method's own `[method.<name>]`
  table, with their defaults and sources, are on [methods.md](methods.md). A method's table, or
  `method.modality`, given for a method that does not take it is an error before anything runs.
- **Default from**: where a default comes from (the paper, the released code, or a choice of
  ours), where it is recorded; an empty cell is a setting of this console.
"""


def render() -> str:
    out = [INTRO, "## name", "", HEADER, "|---|---|---|---|---|---|"]
    out.append(_row(_field(Recipe, "name"), extra=f"letters, digits and `. _ + -`, starting with a letter "
                                                  f"or digit, at most {NAME_MAX} characters; other characters "
                                                  f"of the file's stem become `_`"))
    for f in dataclasses.fields(Recipe):
        if f.name == "name":
            continue
        cls = _default(f).__class__
        out += ["", f"## [{f.name}]", ""]
        if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
            out += [" ".join(cls.__doc__.split()), ""]
        out += _table(f.name, cls)
        if f.name == "model":
            out += ["", "## [model.encoders.&lt;modality&gt;]", "",
                    "One table per modality the recipe uses (`[model.encoders.image]`, ...).", ""]
            out += _table("model.encoders", EncoderConfig)
    return "\n".join(out) + "\n"


def _table(section: str, cls: type) -> list[str]:
    out = [HEADER, "|---|---|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(_default(f)):  # a method's table: on docs/methods.md
            continue
        out.append(_row(f, _extra(section, f.name), _choices(section, f.name)))
    if section == "method":
        tables = [m.name for m in BUILTIN if m.config is not None]
        out += ["", "Each method's own table: " + ", ".join(f"[`[method.{t}]`](methods.md#{t})" for t in tables)
                + " (methods.md)."]
    return out


def _extra(section: str, key: str) -> str:
    """Facts about a key that live beside the schema (the dataset and method tables)."""
    if (section, key) == ("data", "name"):
        disk = ", ".join(f"`{d}`" for d in DISK_DATASETS)
        return f"read from `data.root`: {disk} ([datasets.md](datasets.md)); the others are built in"
    if (section, key) == ("data", "modalities"):
        return "; ".join(f"`{d}`: " + ", ".join(f"`{m}`" for m in mods) for d, mods in DATASETS.items() if mods)
    if (section, key) == ("model", "fusion"):
        fixed = [f"`{name}`" for name, n in FUSIONS.items() if n is not None]
        return f"{' and '.join(fixed)} fuse exactly two modalities"
    return ""


def _row(f: dataclasses.Field, extra: str = "", choices: tuple = ()) -> str:
    meta = {**f.metadata, "choices": choices or f.metadata.get("choices")}
    meaning = "; ".join(t for t in ((meta.get("doc") or "").rstrip("."), extra) if t)
    tp = getattr(f.type, "__name__", str(f.type))  # a made dataclass's field holds the type itself
    return (f"| `{f.name}` | {_cell(tp)} | `{_toml(_default(f))}` | {_cell(_bounds(f.type, meta))} "
            f"| {_cell(meaning)} | {_cell(meta.get('source') or '')} |")


def _choices(section: str, key: str) -> tuple:
    """Choices checked beside the schema: the dataset names, the built-in methods."""
    if (section, key) == ("data", "name"):
        return tuple(DATASETS)
    if (section, key) == ("method", "name"):
        return tuple(m.name for m in BUILTIN)
    return ()


def _field(cls: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def _default(f: dataclasses.Field):
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def check(path: Path) -> list[str]:
    """What is wrong with the page at `path`: missing or stale."""
    return page.stale(path, render(), COMMAND)


def main(argv: list[str] | None = None) -> int:
    return page.main(argv, command=COMMAND, description="Generate docs/recipes.md from the recipe schema.", default=ROOT / PAGE,
                     render=render, check=check)


if __name__ == "__main__":
    sys.exit(main())
