"""Methods: LFM and the baselines, each a component of the one training loop (hooks in
engine/methods/base.py), chosen by the recipe's method.name from the registry
(engine/methods/registry.py).

This package's own module is standard library only, so the registry can be read without torch;
an implementation is imported when a run builds it."""
from __future__ import annotations

import importlib

from engine.methods.registry import METHODS, NAMES, MethodInfo, get  # noqa: F401


def build_method(recipe):
    """The implementation of the recipe's method; a ValueError for a name not in the registry."""
    try:
        info = get(recipe.method.name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    module, _, cls = info.impl.partition(":")
    return getattr(importlib.import_module(module), cls)(recipe)
