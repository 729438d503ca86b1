"""Every method a run can name: the built-in ones (engine/catalog/) and those of installed
packages, which declare a `MethodInfo` (engine/method_info.py) under the entry-point group
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

import keyword
import re
import sys
from importlib import metadata

from engine.catalog import BUILTIN
from engine.method_info import FUSIONS, MethodInfo, Reference  # noqa: F401  (re-exported for plug-ins)

ENTRY_POINT_GROUP = "lfm.methods"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TAKEN = {"name", "modality"}  # [method] keys that are not a method's table


def _plugin_problem(info, builtin: dict[str, MethodInfo]) -> str | None:
    if not isinstance(info, MethodInfo):
        return f"it is a {type(info).__name__}, not an engine.method_info.MethodInfo"
    if not _NAME.fullmatch(info.name) or keyword.iskeyword(info.name) or info.name in _TAKEN:
        return f"its name {info.name!r} is not a lower-case identifier of at most 40 characters"
    if info.name in builtin:
        return f"the name {info.name!r} is taken"
    if info.config is not None and not hasattr(info.config, "__dataclass_fields__"):
        return "its config is not a dataclass"
    if ":" not in info.impl:
        return f"its impl {info.impl!r} is not 'module:Class'"
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
