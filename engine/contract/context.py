"""The narrow view of a run that alpha strategies, the hypergradient and methods receive, built
once in setup (engine/setup.py): nothing outside the trainer holds the trainer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.data.base import MultimodalData
    from engine.runtime.dist import Dist
    from engine.contract.schema import Recipe


@dataclass(frozen=True)
class RunContext:
    recipe: "Recipe"
    data: "MultimodalData"   # the splits: train, val, test; classes; modalities
    model: Any               # the model itself, never its DDP or compiled wrapper
    dist: "Dist"             # rank, world, device, sharding, collectives
