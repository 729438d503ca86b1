"""Methods: LFM and the baselines, each a component of the one training loop (hooks in
engine/methods/base.py), chosen by the recipe's method.name from the registry
(engine/method_registry.py, standard library only). An implementation is imported when a run
builds it."""
from __future__ import annotations

import importlib

from engine import method_registry


def build_method(recipe):
    """The implementation of the recipe's method; a ValueError for a name not in the registry."""
    try:
        info = method_registry.get(recipe.method.name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    module, _, cls = info.impl.partition(":")
    return getattr(importlib.import_module(module), cls)(recipe)
