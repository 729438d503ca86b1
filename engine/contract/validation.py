"""Recipe validation: raw TOML data into a `Recipe`, every problem found at once, each with its
key path, what was expected and what was found; unknown keys rejected with the nearest known
key. Standard library only."""
from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
import re
import typing
from typing import Any

from engine.contract import method_registry as registry
from engine.contract.schema import DATASETS, DISK_DATASETS, Recipe


class RecipeError(Exception):
    """Every problem found in a recipe, one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head] + [f"  - {p}" for p in self.problems])


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list {value!r}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _check_scalar(tp: Any, value: Any, path: str, meta: dict, problems: list[str]) -> Any:
    ok = True
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
    if not ok:
        problems.append(f"{path}: expected {_type_name(tp)}, found {_found(value)}")
        return None
    if tp is float:
        if not (math.isfinite(value) if isinstance(value, float) else abs(value) < 2 ** 1023):
            # NaN passes every range check below; inf and huge numbers overflow later
            problems.append(f"{path}: expected a finite number, found {value!r}")
            return None
        value = float(value)
    if tp is str and any("\ud800" <= c <= "\udfff" for c in value):  # bytes of a non-UTF-8 argument
        problems.append(f"{path}: expected UTF-8 text, found {value!r}")
        return None
    if tp is int and not -INT_LIMIT <= value < INT_LIMIT:
        problems.append(f"{path}: expected an integer below 2**63, found {value!r}")
        return None
    choices = meta.get("choices")
    if choices and value not in choices:
        near = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(f"{path}: expected one of {', '.join(map(repr, choices))}, found {value!r}{hint}")
        return None
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if lo is not None and (value <= lo if meta.get("lo_open") else value < lo):
            rel = ">" if meta.get("lo_open") else ">="
            problems.append(f"{path}: expected a value {rel} {lo}, found {value!r}")
            return None
        if hi is not None and value > hi:
            problems.append(f"{path}: expected a value <= {hi}, found {value!r}")
            return None
    return value


INT_LIMIT = 2 ** 63  # what every integer must stay below: it reaches C code as a 64-bit integer

# A recipe's name names its folders (runs/<name>/...) and is shown in terminals: letters, digits
# and . _ + - only, starting with a letter or digit (so never `..`, a path, or an option).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
NAME_MAX = 80


def name_problem(name: str) -> str | None:
    """What is wrong with a recipe name, or None."""
    if len(name) > NAME_MAX:
        return f"name: expected at most {NAME_MAX} characters, found {len(name)}"
    if not NAME_PATTERN.fullmatch(name):
        return (f"name: expected letters, digits and . _ + - (starting with a letter or digit), "
                f"found {name!r}")
    return None


def name_from_stem(stem: str) -> str:
    """A valid name from a recipe file's stem: other characters become `_`, cut to NAME_MAX."""
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", stem)[:NAME_MAX]
    return name if NAME_PATTERN.fullmatch(name) else ("r" + name)[:NAME_MAX]


def build_section(cls: type, raw: Any, path: str, problems: list[str]) -> Any:
    """One schema section (a dataclass) from raw TOML data; its problems appended to `problems`."""
    if not isinstance(raw, dict):
        problems.append(f"{path or 'recipe'}: expected a table, found {_found(raw)}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        full = f"{path}.{key}" if path else key
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean {(f'{path}.' if path else '') + near[0]!r}?)" if near else ""
            known = ", ".join(sorted(fields))
            problems.append(f"{full}: unknown key{hint}; known keys here: {known}")
            continue
        tp, meta = hints[key], dict(fields[key].metadata)
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp):
            kwargs[key] = build_section(tp, value, full, problems)
        elif origin is dict:
            sub = typing.get_args(tp)[1]
            if not isinstance(value, dict):
                problems.append(f"{full}: expected a table, found {_found(value)}")
                continue
            kwargs[key] = {k: build_section(sub, v, f"{full}.{k}", problems) for k, v in value.items()}
        elif origin is tuple:
            item = typing.get_args(tp)[0]
            if not isinstance(value, list):
                problems.append(f"{full}: expected {_type_name(tp)}, found {_found(value)}")
                continue
            before = len(problems)
            items = [_check_scalar(item, v, f"{full}[{i}]", meta, problems) for i, v in enumerate(value)]
            if len(problems) == before:
                kwargs[key] = tuple(items)
        else:
            checked = _check_scalar(tp, value, full, meta, problems)
            if checked is not None:
                kwargs[key] = checked
    return cls(**kwargs)


def _cross_checks(r: Recipe, problems: list[str]) -> None:
    if r.name and name_problem(r.name):  # empty: load() names the run after the file
        problems.append(name_problem(r.name))
    d = r.data
    if d.name not in DATASETS:
        near = difflib.get_close_matches(d.name, list(DATASETS), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(f"data.name: expected one of {', '.join(map(repr, DATASETS))}, found {d.name!r}{hint}")
        return
    available = DATASETS[d.name]
    if len(d.modalities) < 2:
        problems.append(f"data.modalities: expected two or more modalities, found {list(d.modalities)!r}")
    if len(set(d.modalities)) != len(d.modalities):
        problems.append(f"data.modalities: expected distinct names, found {list(d.modalities)!r}")
    if available is not None:
        for i, m in enumerate(d.modalities):
            if m not in available:
                problems.append(f"data.modalities[{i}]: {d.name!r} has modalities "
                                f"{', '.join(available)}; found {m!r}")
    if available is not None:   # an encoder of a modality the dataset lacks (a typo, another dataset's) is never used
        for m in r.model.encoders:
            if m not in available:
                problems.append(f"model.encoders.{m}: {d.name!r} has modalities {', '.join(available)}; "
                                f"no {m!r} for this encoder to read")
    for m in d.modalities:
        if m not in r.model.encoders:
            problems.append(f"model.encoders.{m}: missing; every modality in data.modalities needs an encoder table")
    if d.name in DISK_DATASETS and not d.root:
        problems.append(f"data.root: {d.name!r} is read from a folder on disk; set data.root to it "
                        f"(see the comment at the top of recipes/{d.name}.toml)")
    if d.val_fraction + d.test_fraction >= 0.9:
        problems.append("data.val_fraction + data.test_fraction: expected below 0.9, found "
                        f"{d.val_fraction + d.test_fraction:g}")
    a = r.alpha
    if len(a.clip) != 2 or a.clip[0] > a.clip[1]:
        problems.append(f"alpha.clip: expected [low, high] with low <= high, found {list(a.clip)!r}")
    elif a.strategy == "learned" and not a.clip[0] <= a.initial <= a.clip[1]:
        problems.append(f"alpha.initial: expected a value within alpha.clip {list(a.clip)!r}, found {a.initial!r}")
    if len(a.betas) != 2 or a.betas[0] >= 1 or a.betas[1] >= 1:
        problems.append(f"alpha.betas: expected [beta1, beta2], each in [0, 1), found {list(a.betas)!r}")
    if len(a.evidence) != 2 or a.evidence[0] > a.evidence[1]:
        problems.append(f"alpha.evidence: expected [t_low, t_high] with t_low <= t_high, found {list(a.evidence)!r}")
    if a.horizon >= 1:
        problems.append(f"alpha.horizon: expected a value in [0, 1), found {a.horizon!r}")
    if a.strategy == "learned" and a.optimizer == "snr" and (a.estimates < 2 or a.hypergradient == "official"):
        problems.append("alpha.optimizer: the snr step needs 2 or more estimates per update (their spread is its "
                        f"evidence), found alpha.estimates = {a.estimates} with alpha.hypergradient = "
                        f"{a.hypergradient!r} (official draws one); set alpha.optimizer to adam, sign or sgd")
    if r.alpha.strategy == "polynomial" and len(r.alpha.coefficients) != 4:
        problems.append(f"alpha.coefficients: expected 4 numbers (a, b, c, d), found {len(r.alpha.coefficients)}")


def _review_checks(r: Recipe, problems: list[str]) -> None:
    """[review]: the Grad-CAM epochs within the run's; UMAP is an optional library, looked for
    without importing it."""
    epochs = r.train.epochs
    for i, e in enumerate(r.review.gradcam_epochs):
        if e != -1 and not 1 <= e <= epochs:
            problems.append(f"review.gradcam_epochs[{i}]: expected an epoch from 1 to train.epochs ({epochs}), "
                            f"or -1 for the last, found {e}")
    if r.review.gap_projection == "umap" and importlib.util.find_spec("umap") is None:
        problems.append("review.gap_projection: 'umap' needs the umap-learn package, which is not installed "
                        "(pip install umap-learn); or use 'pca'")


def _method_checks(r: Recipe, raw: dict, problems: list[str]) -> None:
    """Hyper-parameters the chosen method does not take, and the method's own checks
    (engine/contract/method_registry.py)."""
    info = registry.get(r.method.name)
    given = raw.get("method", {}) if isinstance(raw.get("method"), dict) else {}
    for key in given:
        if key != "name" and key not in info.taken_keys:
            users = registry.takers(key)
            problems.append(f"method.{key}: method {info.name!r} does not take it (taken by "
                            f"{', '.join(map(repr, users))}); remove it or set method.name")
    problems += info.problems(r)


def _unknown_method_hint(raw: dict, problems: list[str]) -> None:
    """A method.name the registry does not know may be the method of a package that is not
    installed here (a run folder moved to another machine): its problem says where methods come from."""
    name = raw.get("method", {}).get("name") if isinstance(raw.get("method"), dict) else None
    if not isinstance(name, str) or name in registry.METHODS:
        return
    for i, p in enumerate(problems):
        if p.startswith("method.name: "):
            problems[i] = (f"{p}; a method of another package is known once that package is installed "
                           f"(it declares it under the entry points {registry.ENTRY_POINT_GROUP!r})")


def from_dict(raw: dict, source: str = "recipe") -> Recipe:
    problems: list[str] = []
    recipe = build_section(Recipe, raw, "", problems)
    _unknown_method_hint(raw, problems)
    if not problems:
        _cross_checks(recipe, problems)
    if not problems:
        _review_checks(recipe, problems)
    if not problems:
        _method_checks(recipe, raw, problems)
    if problems:
        raise RecipeError(source, problems)
    return recipe
