"""Datasets: a registry by name. Each loader returns a `MultimodalData`."""
from __future__ import annotations

from typing import Callable

from engine.data.base import MultimodalData, Split, iter_batches, stratified_split  # noqa: F401
from engine.contract.errors import UserError

LOADERS: dict[str, Callable] = {}


def register(name: str):
    def wrap(fn: Callable) -> Callable:
        LOADERS[name] = fn
        return fn
    return wrap


def load_dataset(recipe) -> MultimodalData:
    from engine.data import disk, emoji, fashion, mfeat, spoken_fashion  # noqa: F401  (registration)

    name = recipe.data.name
    if name not in LOADERS:
        raise UserError(f"data.name: no loader for {name!r}; known: {', '.join(sorted(LOADERS))}")
    return LOADERS[name](recipe)
