"""Recipes: TOML files into typed, frozen configuration.

Standard library only: the UI imports this module to validate recipes without torch.

`load(path, overrides)` returns a `Recipe` or raises `RecipeError` carrying every problem at
once, each with its key path, what was expected and what was found. Unknown keys are rejected
with the nearest known key suggested. The schema is engine/contract/schema.py, the checks
engine/contract/validation.py; this module reads files, applies `key=value` overrides and writes a
resolved recipe back as TOML. A recipe file's `[sweep]` table (how `lfm sweep` executes its
runs, e.g. `[sweep.slurm]`: lfm_tui/executors) is not part of a run and is left out.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from engine.contract import method_registry as registry
from engine.contract import untrusted
from engine.contract.schema import *  # noqa: F401,F403  (the schema's names, as before the split)
from engine.contract.schema import MethodConfig, Recipe
from engine.contract.validation import RecipeError, from_dict, name_from_stem  # noqa: F401


# --------------------------------------------------------------------------- overrides

def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` into (["a", "b", "c"], value). The value is read as TOML, else as a string;
    `[x,y]` with bare words becomes a list of strings."""
    if "=" not in text:
        raise ValueError(f"override {text!r}: expected key=value")
    key, _, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not key or any(not part for part in key.split(".")):
        raise ValueError(f"override {text!r}: expected a dotted key such as alpha.strategy")
    try:
        untrusted.check_nesting(value)
    except ValueError as exc:
        raise ValueError(f"override {key}=...: the value is {exc}") from None
    try:
        parsed = untrusted.toml_loads(f"v = {value}")["v"]
    except ValueError:
        if value.startswith("[") and value.endswith("]"):
            parsed = [v.strip() for v in value[1:-1].split(",") if v.strip()]
        else:
            parsed = value
    return key.split("."), parsed


def apply_overrides(raw: dict, overrides: list[str], problems: list[str]) -> dict:
    out = _deep_copy(raw)
    for text in overrides:
        try:
            path, value = parse_override(text)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        node = out
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                problems.append(f"override {text!r}: {part!r} is not a table")
                break
            node = nxt
        else:
            node[path[-1]] = value
    return out


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def read_toml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise RecipeError(str(p), ["file not found" if not p.exists() else "not a file"])
    try:
        text = untrusted.read_text(p)
    except OSError as exc:
        raise RecipeError(str(p), [f"cannot be read: {exc.strerror or exc}"]) from None
    except ValueError as exc:  # past the size limit, or not UTF-8
        raise RecipeError(str(p), [f"not a recipe file: {exc}"]) from None
    try:
        return untrusted.toml_loads(text)
    except ValueError as exc:
        raise RecipeError(str(p), [f"not valid TOML: {exc}"]) from None


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    raw = read_toml(path)
    raw.pop("sweep", None)  # how `lfm sweep` executes runs ([sweep.slurm]): not part of a run
    problems: list[str] = []
    merged = apply_overrides(raw, list(overrides), problems)
    if not merged.get("name"):
        merged["name"] = name_from_stem(Path(path).stem)
    try:
        recipe = from_dict(merged, str(path))
    except RecipeError as exc:
        raise RecipeError(str(path), problems + exc.problems) from None
    if problems:
        raise RecipeError(str(path), problems)
    return recipe


def to_dict(recipe: Any) -> Any:
    """The resolved recipe as plain TOML-ready data (tuples become lists). The [method] section
    holds only the keys its method takes, so that the result loads again."""
    if isinstance(recipe, MethodConfig):
        keep = ("name", *registry.get(recipe.name).taken_keys)
        return {k: to_dict(getattr(recipe, k)) for k in keep}
    if dataclasses.is_dataclass(recipe):
        return {f.name: to_dict(getattr(recipe, f.name)) for f in dataclasses.fields(recipe)}
    if isinstance(recipe, dict):
        return {k: to_dict(v) for k, v in recipe.items()}
    if isinstance(recipe, (list, tuple)):
        return [to_dict(v) for v in recipe]
    return recipe


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A bare key where TOML allows one (letters, digits, _ and -), else a quoted one."""
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else toml_string(key)


def dumps(recipe: Recipe) -> str:
    """TOML text of a resolved recipe (the subset of TOML recipes use)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return toml_string(v)
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v)

    def table(prefix: str, d: dict) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        subs = {k: v for k, v in d.items() if isinstance(v, dict)}
        if prefix and (scalars or not subs):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{toml_key(k)} = {value(v)}")
        for k, v in subs.items():
            table(f"{prefix}.{toml_key(k)}" if prefix else toml_key(k), v)

    table("", to_dict(recipe))
    return "\n".join(lines).lstrip("\n") + "\n"


def header_comment(path: str | Path) -> str:
    """The comment block that opens a recipe file, without the '#' marks."""
    out = []
    for line in untrusted.read_text(Path(path)).splitlines():  # ValueError past its size or not UTF-8
        if line.startswith("#"):
            out.append(line[1:].removeprefix(" "))
        elif line.strip() == "" and not out:
            continue
        else:
            break
    return "\n".join(out).strip()
