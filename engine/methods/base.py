"""The method protocol: the hooks the one training loop (engine/training/trainer.py) calls, named after
the moment they run, each argument name always the same kind of object:

    run        RunContext (engine/contract/context.py): the recipe, the data, the model, the processes
    model      the model itself (MultimodalModel), never its DDP or compiled wrapper
    net        what the training step calls: the model under DDP and torch.compile where asked;
               only `forward` receives it, and every training pass goes through it
    step       Step: this step's epoch, index, sub-step, alpha, model and collectives
    inputs     one batch's inputs, modality -> tensor; labels: its class indices
    out        what `forward` returned (an engine.models.multimodal.Output)
    losses     what `loss` returned: named scalar tensors, "total" optimised, "cls" the fused CE
    epoch      the epoch, counted from 1

Once, in this order (engine/setup.py):
    configure_model(model, data)          add the method's modules (heads, MMTM blocks)
    configure_optimizer(model)            the optimiser's parameter groups, or None: one group
    on_fit_start(run, optimizer)          after the optimiser exists, before a checkpoint's state loads
Each epoch:
    on_train_epoch_start(run, epoch)      may change state (a phase's members)
    each batch, `substeps(run)` times (MLA: one step per modality):
        on_train_batch_start(step)        may change state (parameters restored)
        forward(net, inputs, step)        -> out
        loss(out, labels, step)           -> losses; pure: reads the method's state, never changes it
        backward(losses, step)            gradients into the model's parameters
        (the processes' gradients averaged here when gradient_sync is "manual")
        on_after_backward(out, labels, losses, step)   may change gradients and the method's state
        (the optimiser steps)
    on_validation_end(run, epoch)         after the epoch's validation; may change state; returns
                                          what to report in the epoch's log, or None
Checkpoints: state_dict() / load_state_dict(state) carry the method's own state.

Built once here for the methods that need them: `modality_parameters` (what "modality j's
parameters" are), `modality_groups` (one optimiser group per modality and one shared),
`freeze` (grad = None: SGD and Adam skip the parameter, so neither momentum nor weight decay
moves it), `split_features` (a split's features in evaluation mode, for decisions made on the
validation split). docs/writing-a-method.md walks through a new method.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.contract.context import RunContext
from engine.runtime.dist import Dist
from engine.contract import method_registry as registry
@dataclass
class Step:
    """One optimiser step of the training loop, as a method sees it."""
    epoch: int        # from 1
    index: int        # the step within the epoch, from 0
    global_step: int  # steps taken before this one
    alpha: float      # the alpha strategy's value (methods that do not use it see 0)
    model: nn.Module  # the model itself, never its wrapper (`net`)
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None  # rows of every process (DDP), else None
    substep: int = 0  # which of the method's `substeps` on this batch, from 0
    dist: Dist | None = None  # the processes under DDP, else None
    seed: int = 0  # train.seed: randomness every process draws alike under DDP
    _generator: torch.Generator | None = field(default=None, init=False, repr=False)  # randn_like's, per step

    def all_rows(self, x: torch.Tensor) -> torch.Tensor:
        """`x` with the rows of the other processes' shares of the batch (itself in one process)."""
        return self.gather(x) if self.gather is not None else x

    def summed(self, values: dict[str, float]) -> dict[str, float]:
        """Per-batch sums (scores, counts) summed over the processes' shares of the global
        batch, so that every process takes the same decision from them (themselves in one)."""
        if self.dist is None or not self.dist.enabled:
            return values
        keys = list(values)
        t = self.dist.all_reduce_sum(torch.tensor([values[k] for k in keys], dtype=torch.float64))
        return {k: float(v) for k, v in zip(keys, t)}

    def batch_means(self, values: dict[str, float], n: int) -> dict[str, float]:
        """Per-batch means over this process's `n` rows turned into means over the global
        batch (themselves in one process)."""
        if self.dist is None or not self.dist.enabled:
            return values
        keys = list(values)
        t = self.dist.all_reduce_sum(torch.tensor([*(values[k] * n for k in keys), n], dtype=torch.float64))
        return {k: float(v / t[-1]) for k, v in zip(keys, t[:-1])}

    def average_gradients(self, tensors: list[torch.Tensor]) -> None:
        """Gradients replaced by their mean over the processes (nothing in one process): for a
        method whose backward combines several gradients (`gradient_sync = "method"`)."""
        if self.dist is not None:
            self.dist.average_gradients(tensors)

    def randn_like(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian noise shaped like `x`: from the global generator in one process; under DDP
        the same draw on every process (a generator seeded by train.seed, the step and the
        sub-step), so that noise added to averaged gradients keeps the weights identical."""
        if self.dist is None or not self.dist.enabled:
            return torch.randn_like(x)
        if self._generator is None:
            self._generator = torch.Generator(device=x.device)
            self._generator.manual_seed((self.seed * 1_000_003 + self.global_step * 97 + self.substep) % (2 ** 63))
        return torch.randn(x.shape, generator=self._generator, device=x.device, dtype=x.dtype)


class Method:
    """The default hooks train the fused cross-entropy; a method overrides what it changes."""

    # How the processes of a run (--nproc-per-node) agree on the gradients:
    # "ddp": the model under DistributedDataParallel, which averages gradients during backward
    #   (every parameter must get a gradient on every step through one forward pass);
    # "manual" (the default): the trainer averages every gradient over the processes once
    #   `backward` is done, before `on_after_backward`, which then sees the global batch's
    #   gradients (modulation, freezing and clipping decide alike on every process);
    # "method": `backward` averages the gradients it combines itself (`Step.average_gradients`).
    # Per-batch quantities a method decides from go through `Step.summed`; decisions read from a
    # whole split (validation) are computed alike on every process.
    gradient_sync = "manual"

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

    # ---------------------------------------------------------------- once
    def configure_model(self, model: nn.Module, data) -> None:
        """Add the method's modules to the model, before the optimiser is built, so that they
        train, checkpoint and resume with it."""

    def configure_optimizer(self, model: nn.Module) -> list[dict] | None:
        """The optimiser's parameter groups (`modality_groups`); None: one group of every parameter."""
        return None

    def on_fit_start(self, run: RunContext, optimizer: torch.optim.Optimizer) -> None:
        """Once the optimiser exists, before a checkpoint's state is loaded into the run."""

    def substeps(self, run: RunContext) -> int:
        """Optimiser steps per batch (each a forward, loss, backward and step; `Step.substep`)."""
        return 1

    # ---------------------------------------------------------------- each epoch and step
    def on_train_epoch_start(self, run: RunContext, epoch: int) -> None:
        """Before the epoch's first step (also when a run resumes within the epoch)."""

    def on_train_batch_start(self, step: Step) -> None:
        """Before each step's forward pass."""

    def forward(self, net: nn.Module, inputs: dict, step: Step):
        """The step's forward pass, through `net`; a method's own pass goes through it as
        `net(inputs, through=fn)`, `fn(model, inputs) -> Output`."""
        return net(inputs)

    def loss(self, out, labels: torch.Tensor, step: Step) -> dict[str, torch.Tensor]:
        """Named losses of one batch; "total" is the one optimised, "cls" the fused CE."""
        l_cls = F.cross_entropy(out.logits, labels)
        return {"total": l_cls, "cls": l_cls}

    def backward(self, losses: dict[str, torch.Tensor], step: Step) -> None:
        losses["total"].backward()

    def on_after_backward(self, out, labels: torch.Tensor, losses: dict[str, torch.Tensor], step: Step) -> None:
        """Change the gradients (and the method's state) before the optimiser steps."""

    def on_validation_end(self, run: RunContext, epoch: int) -> dict | None:
        """After the epoch's validation; returns what to report in the epoch's log, if anything."""
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def attach_aux_heads(model: nn.Module, num_classes: int, feature_dim: int) -> None:
    """A linear classifier per modality on its encoder's features (G-Blend, MMPareto)."""
    model.add_module("aux_heads", nn.ModuleDict(
        {m: nn.Linear(feature_dim, num_classes) for m in model.modalities}))


def modality_parameters(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Each modality's own trainable parameters, and "shared" for the rest: a modality owns the
    children keyed by its name in every ModuleDict keyed by modality names (its encoder, its
    projection head, its auxiliary or fusion head, its MMTM excitation); the fused classifier
    and everything else is shared. In the order of `model.parameters()`."""
    owner: dict[int, str] = {}
    mods = set(model.modalities)
    for module in model.modules():
        if isinstance(module, nn.ModuleDict) and len(module) and set(module.keys()) <= mods:
            for m, child in module.items():
                for p in child.parameters():
                    owner.setdefault(id(p), m)
    out: dict[str, list[nn.Parameter]] = {"shared": [], **{m: [] for m in model.modalities}}
    for p in model.parameters():
        if p.requires_grad:
            out[owner.get(id(p), "shared")].append(p)
    return out


def modality_groups(model: nn.Module) -> list[dict]:
    """Optimiser groups: "shared" first (its learning rate is the scheduled one the loop
    reports), then one per modality, each named by its "name" key."""
    return [{"params": ps, "name": name} for name, ps in modality_parameters(model).items()]


def group_of(optimizer: torch.optim.Optimizer, name: str) -> dict:
    return next(g for g in optimizer.param_groups if g.get("name") == name)


def freeze(params) -> None:
    """No update this step: grad = None, which SGD and Adam skip (a zero gradient would still
    let weight decay and momentum move the parameter)."""
    for p in params:
        p.grad = None


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
