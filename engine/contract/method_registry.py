"""Every method a run can name: the built-in ones (engine/contract/catalog/) and those of installed
packages, which declare a `MethodInfo` (engine/contract/method_info.py) under the entry-point group
`lfm.methods`:

    [project.entry-points."lfm.methods"]
    my_method = "my_package.info:INFO"

A plug-in is a first-class method: `lfm validate` knows its keys, runs, sweeps, several
processes, resume, `lfm compare` and the dashboard work with it. Its entry point must load
without torch (the UI reads this table); its implementation (`impl`) is imported only when a run
builds it. A plug-in that fails to load, or whose name is taken, is left out with a warning on
stderr, so one broken package never stops the console.

Standard library only. A name that is not here is an error everywhere.
"""
from __future__ import annotations

import dataclasses
import keyword
import re
import sys
import typing
from importlib import metadata

from engine.contract.catalog import BUILTIN
from engine.contract.method_info import FUSIONS, MethodInfo, Reference  # noqa: F401  (re-exported for plug-ins)

ENTRY_POINT_GROUP = "lfm.methods"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TAKEN = {"name", "modality"}  # [method] keys that are not a method's table


def _plugin_problem(info, builtin: dict[str, MethodInfo]) -> str | None:
    """Why an installed package's `MethodInfo` cannot be used, or None: everything the recipe
    schema, the UI and a run read from it is checked here, so that a faulty plug-in is left out
    with a warning instead of stopping the console where it reads the registry."""
    if not isinstance(info, MethodInfo):
        return f"it is a {type(info).__name__}, not an engine.contract.method_info.MethodInfo"
    if not isinstance(info.name, str) or not _NAME.fullmatch(info.name) or keyword.iskeyword(info.name) \
            or info.name in _TAKEN:
        return f"its name {info.name!r} is not a lower-case identifier of at most 40 characters"
    if info.name in builtin:
        return f"the name {info.name!r} is taken"
    for attr in ("summary", "impl", "label_template"):
        if not isinstance(getattr(info, attr), str):
            return f"its {attr} is a {type(getattr(info, attr)).__name__}, not a string"
    module, _, cls = info.impl.partition(":")
    if not (module and cls.isidentifier() and all(p.isidentifier() for p in module.split("."))):
        return f"its impl {info.impl!r} is not 'package.module:Class'"
    fusions = {*FUSIONS, *(m.fusion for m in builtin.values() if m.fusion)}
    if info.fusion is not None and info.fusion not in fusions:
        return f"its fusion {info.fusion!r} is none of {', '.join(sorted(fusions))}"
    tables = {"modality", *(m.name for m in builtin.values() if m.config is not None)}
    if not isinstance(info.keys, tuple) or any(k not in tables for k in info.keys):
        return f"its keys {info.keys!r} are not among the [method] keys {', '.join(sorted(tables))}"
    if not isinstance(info.checks, tuple) or not all(callable(c) for c in info.checks) \
            or (info.fusion_options is not None and not callable(info.fusion_options)):
        return "its checks and fusion_options are not functions of the recipe"
    if info.modalities is not None and (not isinstance(info.modalities, int) or info.modalities < 1):
        return f"its modalities {info.modalities!r} is not a positive number"
    return None if info.config is None else _config_problem(info.config)


_SCALARS = (bool, int, float, str)


def _config_problem(config) -> str | None:
    """Why a plug-in's key table cannot be a recipe section, or None: a dataclass whose keys all
    have defaults and are true/false, integers, numbers, strings or lists of one of those."""
    if not dataclasses.is_dataclass(config) or not isinstance(config, type):
        return "its config is not a dataclass"
    try:
        hints = typing.get_type_hints(config)
        config()
    except Exception as exc:  # unresolvable annotations, a key without a default
        return f"its config {config.__name__} cannot be built from its defaults: {type(exc).__name__}: {exc}"
    for f in dataclasses.fields(config):
        tp = hints[f.name]
        item = typing.get_args(tp) if typing.get_origin(tp) is tuple else None
        if not (tp in _SCALARS or (item and len(item) == 2 and item[1] is Ellipsis and item[0] in _SCALARS)):
            return (f"its config key {f.name!r} is a {getattr(tp, '__name__', tp)}; keys are bool, int, float, str "
                    f"or tuple[one of them, ...]")
    return None


def _load_plugins(builtin: dict[str, MethodInfo]) -> tuple[list[MethodInfo], list[str]]:
    """The installed packages' methods, and a warning for each that could not be used."""
    found, warnings = [], []
    try:
        points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name)
    except Exception as exc:  # a damaged installation's metadata: no plug-ins, said once
        return [], [f"the installed packages' {ENTRY_POINT_GROUP} entry points could not be read: {exc}"]
    for point in points:
        try:
            info = point.load()
        except Exception as exc:  # any error of a third-party import: left out, said
            warnings.append(f"method plug-in {point.name!r} ({point.value}) did not load: "
                            f"{type(exc).__name__}: {exc}")
            continue
        problem = _plugin_problem(info, builtin)
        if problem is None and info.name in {m.name for m in found}:
            problem = f"the name {info.name!r} is taken by another plug-in"
        if problem is not None:
            warnings.append(f"method plug-in {point.name!r} ({point.value}) left out: {problem}")
            continue
        found.append(info)
    return found, warnings


_BUILTIN = {m.name: m for m in BUILTIN}
PLUGINS, PLUGIN_WARNINGS = _load_plugins(_BUILTIN)
for _w in PLUGIN_WARNINGS:
    print(f"lfm: warning: {_w}", file=sys.stderr)

METHODS: dict[str, MethodInfo] = {**_BUILTIN, **{m.name: m for m in PLUGINS}}
NAMES: tuple[str, ...] = tuple(METHODS)  # table order: baselines, LFM, then plug-ins by name


def get(name: str) -> MethodInfo:
    """The method called `name`; a KeyError naming the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(NAMES)}") from None


def config_tables() -> dict[str, type]:
    """`[method.<name>]` table -> its dataclass, for every method that has keys."""
    return {m.name: m.config for m in METHODS.values() if m.config is not None}


def takers(key: str) -> list[str]:
    """The methods that take `[method] key`."""
    return [m.name for m in METHODS.values() if key in m.taken_keys]
