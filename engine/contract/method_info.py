"""What a method is, declared once: `MethodInfo`, the torch-free description of a method that
the recipe validation, the UI, the docs and the engine all read (engine/contract/method_registry.py
collects them: the built-in ones of engine/contract/catalog/ and those of installed packages;
engine/contract/method_docs.py renders them as docs/methods.md).

A method is two things: this description (standard library only, so that `lfm validate`, the
dashboard and `lfm compare` know the method without importing torch) and its implementation, a
`engine.methods.base.Method` subclass named by `impl` ("package.module:Class") and imported only
when a run builds it. docs/writing-a-method.md walks through both.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

# The fusions of the multimodal model (engine/models/fusion.py) that `model.fusion` may name,
# and how many modalities each fuses (None: any number).
FUSIONS: dict[str, int | None] = {"concat": None, "sum": None, "weight": None, "film": 2, "gated": 2}


@dataclass(frozen=True)
class Reference:
    """Where a method comes from and how far this implementation was checked against it."""
    paper: str = ""                   # authors, title, venue
    code: str = ""                    # the released code it was compared with: repository and file, or why none
    verified: tuple[str, ...] = ()    # what is pinned equal, each "what: tests/<file>.py::test_<name>"
    deviations: tuple[str, ...] = ()  # deliberate differences from the paper or code, each with its size


@dataclass(frozen=True)
class MethodInfo:
    name: str                         # method.name in recipes; also the name of its key table
    summary: str                      # one line: what it does (its row and section of docs/methods.md)
    impl: str                         # "package.module:Class", a subclass of engine.methods.base.Method
    config: type | None = None        # the dataclass of its `[method.<name>]` table (engine/schema_fields.spec fields)
    keys: tuple[str, ...] = ()        # other [method] keys it takes (e.g. "modality", another method's table)
    fusion: str | None = None         # the fusion it sets; None: the recipe's model.fusion
    uses_alpha: bool = False          # weights a matching loss by the alpha strategy
    modalities: int | None = None     # the number of modalities it needs; None: two or more
    single_modality: bool = False     # its model keeps only the modality named by method.modality
    label_template: str = ""          # its row label in tables; "{method.modality}" etc. filled from the run
    checks: tuple[Callable, ...] = field(default=())  # recipe -> list of problems
    fusion_options: Callable | None = None  # recipe -> keyword options of the fusion it sets
    reference: Reference = field(default_factory=Reference)

    @property
    def taken_keys(self) -> tuple[str, ...]:
        """The [method] keys it takes besides `name`: its own table (if it has keys) and `keys`."""
        return ((self.name,) if self.config is not None else ()) + tuple(self.keys)

    def label(self, config: dict[str, str]) -> str:
        """The row label of comparison tables, from a run's flattened recipe."""
        return re.sub(r"\{([^{}]+)\}", lambda m: str(config.get(m.group(1), "?")),
                      self.label_template or self.name)

    def model_fusion(self, recipe) -> str:
        return self.fusion or recipe.model.fusion

    def model_fusion_options(self, recipe) -> dict:
        return self.fusion_options(recipe) if self.fusion_options is not None else {}

    def model_modalities(self, recipe, modalities: tuple[str, ...]) -> tuple[str, ...]:
        """The modalities its model encodes."""
        return (recipe.method.modality,) if self.single_modality else tuple(modalities)

    def problems(self, recipe) -> list[str]:
        out: list[str] = []
        n = len(recipe.data.modalities)
        if self.single_modality and recipe.method.modality not in recipe.data.modalities:
            out.append(f"method.modality: the {self.name} method needs the modality to keep, one of "
                       f"{', '.join(map(repr, recipe.data.modalities))}; found {recipe.method.modality!r}")
        if self.modalities is not None and n != self.modalities:
            out.append(f"method.name: {self.name!r} fuses exactly {_count(self.modalities)} modalities, "
                       f"found {n} in data.modalities")
        fusion = recipe.model.fusion
        if self.fusion is None and FUSIONS.get(fusion) is not None and n != FUSIONS[fusion]:
            out.append(f"model.fusion: {fusion!r} fuses exactly {_count(FUSIONS[fusion])} modalities, "
                       f"found {n} in data.modalities")
        for check in self.checks:
            try:
                out += check(recipe)
            except Exception as exc:  # a plug-in's check that fails is a problem named, not a traceback
                out.append(f"method.name: the {self.name} method's check {getattr(check, '__name__', check)!r} "
                           f"failed: {type(exc).__name__}: {exc}")
        return out


def _count(n: int) -> str:
    return {2: "two", 3: "three"}.get(n, str(n))
