"""Methods: LFM and the baselines, each a component of the one training loop (hooks in
engine/methods/base.py), chosen by the recipe's method.name from the registry
(engine/contract/method_registry.py, standard library only). An implementation is imported when a run
builds it."""
from __future__ import annotations

import importlib

from engine.contract import method_registry
from engine.contract.errors import UserError


def build_method(recipe):
    """The implementation of the recipe's method; a ValueError for a name not in the registry,
    a UserError for an implementation that does not import or is not a Method (a plug-in's)."""
    from engine.methods.base import Method

    try:
        info = method_registry.get(recipe.method.name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    module, _, name = info.impl.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except Exception as exc:  # any error of a package's import
        raise UserError(f"method {info.name!r}: its implementation {info.impl} did not load: "
                        f"{type(exc).__name__}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise UserError(f"method {info.name!r}: its implementation {info.impl} is not a subclass of "
                        f"engine.methods.base.Method")
    return cls(recipe)
