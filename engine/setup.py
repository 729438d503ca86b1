"""Everything a run trains with, each built once by a small function, in the order that keeps
a seeded run reproducible: data, then the model and its method, then the optimiser, scheduler,
alpha strategy and probes, then the trainer that holds them. engine/run.py calls these between
its own steps (the run folder is made after the data and the model, so bad input leaves
nothing behind); `build_trainer` calls them all at once for tests and tools.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from engine.alpha.strategies import build_strategy
from engine.contract.context import RunContext
from engine.data import load_dataset
from engine.runtime.dist import Dist
from engine.training.callbacks import Report, RunCallback
from engine.training.evaluation import Evaluator, Probes
from engine.contract import method_registry as registry
from engine.methods import build_method
from engine.models import build_model
from engine.training.trainer import Trainer


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2 ** 32))


def load_data(recipe):
    """The recipe's dataset, its splits fixed by data.split_seed."""
    if recipe.train.threads:
        torch.set_num_threads(recipe.train.threads)
    set_seed(recipe.train.seed)
    return load_dataset(recipe)


def build_parts(recipe, data, dist: Dist):
    """(context, method, net, autocast): the model of the recipe's method on this rank's device,
    the method attached to it, and `net`, what the training step calls (the model under DDP
    and torch.compile where asked; evaluation, checkpoints and the hypergradient use the model)."""
    set_seed(recipe.train.seed)  # model initialisation independent of what loading consumed
    info = registry.get(recipe.method.name)
    model = build_model(recipe, data, info.model_fusion(recipe), info.model_modalities(recipe, data.modalities),
                        **info.model_fusion_options(recipe))
    method = build_method(recipe)
    method.configure_model(model, data)
    model = model.to(dist.device)
    cuda = dist.device.type == "cuda"
    if cuda and recipe.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cuda and recipe.train.precision == "bf16"
                else contextlib.nullcontext())
    net = model
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        if method.gradient_sync == "ddp":
            net = DistributedDataParallel(model, device_ids=[dist.device.index] if cuda else None)
        else:  # the trainer or the method averages the gradients (engine/methods/base.py)
            dist.broadcast_module(model)
    if recipe.train.compile:
        net = torch.compile(net)
    return RunContext(recipe, data, model, dist), method, net, autocast


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(cfg, optimizer, epochs: int):
    """Stepped once per epoch; `plateau` on the validation loss."""
    if cfg.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.gamma)
    if cfg.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.gamma,
                                                          patience=cfg.patience, min_lr=cfg.min_lr)
    if cfg.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=cfg.min_lr)
    return None


def setup_trainer(ctx: RunContext, method, net, autocast, run_dir: Path, report: Report,
                  resume_state: dict | None = None, source: str = "the checkpoint") -> Trainer:
    """The optimiser, scheduler, alpha strategy, probes and evaluator around the model, the
    trainer holding them, and the checkpoint's state loaded into it when resuming."""
    r = ctx.recipe
    # one group of every parameter, or the method's groups (per-modality learning rates, MSLR)
    optimizer = build_optimizer(r.optim, method.configure_optimizer(ctx.model) or ctx.model.parameters())
    scheduler = build_scheduler(r.schedule, optimizer, r.train.epochs)
    alpha = build_strategy(r.alpha, r.train.epochs)
    probes = (Probes(ctx.model.modalities, r.model.feature_dim, ctx.data.num_classes, ctx.dist.device)
              if r.eval.unimodal == "probe" else None)
    evaluator = Evaluator(ctx, report, run_dir, probes, autocast)
    trainer = Trainer(ctx, method=method, net=net, autocast=autocast, optimizer=optimizer,
                      scheduler=scheduler, alpha=alpha, evaluator=evaluator, probes=probes,
                      run_dir=run_dir, report=report)
    method.on_fit_start(ctx, optimizer)
    if resume_state is not None:
        trainer.load_state(resume_state, source)
    return trainer


def build_trainer(recipe, run_dir: Path, emitter, resume_state: dict | None = None,
                  dist: Dist | None = None, callbacks: list[RunCallback] | None = None) -> Trainer:
    """A trainer for `recipe` writing checkpoints into `run_dir` and events to `emitter`, calling
    `callbacks` at its lifecycle points, built in one call (tests, benchmarks); `lfm run` goes
    through engine/run.py."""
    dist = dist or Dist()
    Path(run_dir).mkdir(parents=True, exist_ok=True)  # the run folder `lfm run` makes (layout.create_run_folder)
    data = load_data(recipe)
    ctx, method, net, autocast = build_parts(recipe, data, dist)
    return setup_trainer(ctx, method, net, autocast, Path(run_dir), Report(emitter, callbacks), resume_state)
