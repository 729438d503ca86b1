"""The method protocol: the hooks the one training loop calls (engine/trainer.py). A method
sees the run through a `RunContext` (engine/context.py): the recipe, the data, the model, the
processes.

Per step: `forward` (the model's output), `loss_terms` (named losses; "total" is optimised),
`backward` (gradients of the terms), `after_backward` (gradient modulation), then the optimiser
steps. Per epoch: `end_epoch` (after validation). `attach` adds a method's own modules to the
model before the optimiser is built, so they train, checkpoint and resume with it;
`state_dict` / `load_state_dict` carry the rest of its state through checkpoints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.context import RunContext
from engine import method_registry as registry


@dataclass
class StepContext:
    epoch: int        # t, from 1
    step: int         # the step within the epoch, from 0
    global_step: int  # steps taken before this one
    alpha: float      # the alpha strategy's value (methods that do not use it see 0)
    model: nn.Module  # the model being trained
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None  # rows of every process (DDP), else None

    def all_rows(self, x: torch.Tensor) -> torch.Tensor:
        """`x` with the rows of the other processes' shares of the batch (itself in one process)."""
        return self.gather(x) if self.gather is not None else x


class Method:
    """The default hooks train the fused cross-entropy; a method overrides what it changes."""

    @property
    def distributed(self) -> bool:
        """Runs under DDP: the forward pass, backward and gradients are the default ones, so
        DistributedDataParallel's gradient averaging is the whole story."""
        cls = type(self)
        return (cls.forward is Method.forward and cls.backward is Method.backward
                and cls.after_backward is Method.after_backward)

    def __init__(self, recipe):
        self.recipe = recipe
        self.info = registry.get(recipe.method.name)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def uses_alpha(self) -> bool:
        """Only LFM weights a matching loss by the alpha strategy (the registry says)."""
        return self.info.uses_alpha

    def attach(self, model: nn.Module, data) -> None:
        """Add the method's modules to the model (before the optimiser is built)."""

    def setup(self, ctx: RunContext) -> None:
        """Called once the model exists, before a checkpoint's state is loaded."""

    def forward(self, model: nn.Module, inputs: dict, ctx: StepContext):
        return model(inputs)

    def loss_terms(self, out, labels: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Named losses of one batch; "total" is the one optimised, "cls" the fused CE."""
        l_cls = F.cross_entropy(out.logits, labels)
        return {"total": l_cls, "cls": l_cls}

    def backward(self, terms: dict[str, torch.Tensor], model: nn.Module, ctx: StepContext) -> None:
        terms["total"].backward()

    def after_backward(self, model: nn.Module, out, labels: torch.Tensor, ctx: StepContext) -> None:
        """Change the gradients before the optimiser steps."""

    def end_epoch(self, ctx: RunContext, t: int) -> dict | None:
        """After epoch t's validation; returns what to report in the epoch's log, if anything."""
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def attach_aux_heads(model: nn.Module, num_classes: int, feature_dim: int) -> None:
    """A linear classifier per modality on its encoder's features (G-Blend, MMPareto)."""
    model.add_module("aux_heads", nn.ModuleDict(
        {m: nn.Linear(feature_dim, num_classes) for m in model.modalities}))


@torch.no_grad()
def split_features(model: nn.Module, split, batch_size: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Every sample's encoder features of one split, in evaluation mode."""
    was_training = model.training
    model.eval()
    feats: dict[str, list] = {m: [] for m in model.modalities}
    for i in range(0, len(split), batch_size):
        inputs, _ = split.batch(torch.arange(i, min(i + batch_size, len(split))))
        for m, f in model.encode(inputs).items():
            feats[m].append(f)
    model.train(was_training)
    return {m: torch.cat(v) for m, v in feats.items()}, split.labels
