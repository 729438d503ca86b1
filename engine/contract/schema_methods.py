"""The `[method]` section of a recipe: the method's name, `modality` (the unimodal method's
choice) and one table of keys per method that takes any, built from the registry
(engine/contract/method_registry.py), so that a plug-in's keys validate like a built-in's. Each table's
dataclass is declared beside its method (engine/contract/catalog/, or the plug-in's package).
Standard library only."""
from __future__ import annotations

from dataclasses import make_dataclass

from engine.contract import method_registry as registry
from engine.contract.schema_fields import spec

MethodConfig = make_dataclass(
    "MethodConfig",
    [("name", str, spec("lfm", choices=registry.NAMES, doc="the method trained by the one training loop")),
     ("modality", str, spec("", doc="unimodal: the modality to keep")),
     *[(table, cls, spec(cls())) for table, cls in registry.config_tables().items()]],
    frozen=True)
MethodConfig.__module__ = __name__
MethodConfig.__doc__ = "The [method] section: name, modality, and each method's table."
