"""The training loop of the paper's Algorithm 1: epochs as the outer loop with alpha fixed during
each, the alpha strategy updated after each; validation every epoch; the best-on-validation
checkpoint kept; the test split evaluated once at the end with that checkpoint.

The trainer holds the loop and its state only (what a checkpoint holds of that state, and how a
run continues from it: engine/training/trainer_state.py); everything it works with is built once in
engine/setup.py and handed to it. Alpha strategies and methods see the run through a
`RunContext`, never through the trainer.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from engine.training import checkpoint as ckpt
from engine.contract import events, layout
from engine.contract.context import RunContext
from engine.data.base import epoch_batches, iter_batches, steps_per_epoch
from engine.contract.errors import UserError
from engine.training.callbacks import Report
from engine.training.evaluation import Evaluator, Probes
from engine.methods.base import Step
from engine.training.trainer_state import CheckpointedState


class Trainer(CheckpointedState):
    def __init__(self, ctx: RunContext, *, method, net, autocast, optimizer, scheduler, alpha,
                 evaluator: Evaluator, probes: Probes | None, run_dir: Path, report: Report):
        self.ctx, self.recipe, self.data, self.model, self.dist = ctx, ctx.recipe, ctx.data, ctx.model, ctx.dist
        self.method, self.net, self.autocast = method, net, autocast
        self.optimizer, self.scheduler, self.alpha = optimizer, scheduler, alpha
        self.evaluator, self.probes = evaluator, probes
        self.run_dir, self.report = Path(run_dir), report
        self.stop_requested = False  # set by the signal handler, at any instant
        self.stopping = False        # what every rank agreed on at the last agreement point
        self.steps_per_epoch = steps_per_epoch(len(self.data.train), self.recipe.data.batch_size)
        self.epoch, self.step_in_epoch, self.global_step = 1, 0, 0
        self.best: dict | None = None
        self.best_epoch = 0
        self.sums = {"total": 0.0, "cls": 0.0, "mm": 0.0, "n": 0}

    # ------------------------------------------------------------------ training
    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def alpha_value(self, t: int) -> float:
        return self.alpha.value(t) if self.method.uses_alpha else 0.0

    def train_step(self, inputs: dict, labels: torch.Tensor, alpha: float, global_size: int = 0
                   ) -> dict[str, torch.Tensor]:
        """One batch's optimiser step(s); its losses stay on the device (float64, summed over the
        sub-steps): they are read to the host only where the loop logs them."""
        self.net.train()
        # under DDP, a matching loss sees the whole global batch (embeddings gathered over ranks)
        gather = (lambda e: self.dist.all_gather_cat(e, global_size)) if self.dist.enabled else None
        losses: dict[str, torch.Tensor] = {}
        manual_sync = self.dist.enabled and self.method.gradient_sync == "manual"
        for k in range(self.method.substeps(self.ctx)):  # one, except for MLA (a step per modality)
            step = Step(self.epoch, self.step_in_epoch, self.global_step, alpha, self.model, gather, k,
                        self.dist if self.dist.enabled else None, self.recipe.train.seed)
            self.method.on_train_batch_start(step)
            with self.autocast:
                out = self.method.forward(self.net, inputs, step)
                terms = self.method.loss(out, labels, step)
            self.optimizer.zero_grad(set_to_none=True)
            self.method.backward(terms, step)
            if manual_sync:  # the global batch's gradients before the method's modulation
                self.dist.average_gradients([p.grad for p in self.model.parameters() if p.grad is not None])
            self.method.on_after_backward(out, labels, terms, step)
            self.optimizer.step()
            if manual_sync:
                self.dist.broadcast_module(self.model, buffers_only=True)
            for name, v in terms.items():  # summed over the sub-steps
                v = v.detach().double()
                losses[name] = losses[name] + v if name in losses else v
            if self.probes is not None:
                losses["probe"] = self.probes.train_step(out.features, labels)
        return losses

    def train(self) -> str:
        """Runs the remaining epochs; returns "ok" or "cancelled"."""
        r = self.recipe
        while self.epoch <= r.train.epochs:
            t = self.epoch
            alpha = self.alpha_value(t)
            self.method.on_train_epoch_start(self.ctx, t)
            batches = epoch_batches(len(self.data.train), r.data.batch_size, r.train.seed, t)
            tick, seen = time.perf_counter(), 0
            start = self.step_in_epoch
            shards = [self.dist.shard(b) for b in batches[start:]]
            stream = iter_batches(self.data.train, shards, r.data.workers, pin_memory=self.dist.pin_memory)
            for i, (inputs, labels) in enumerate(stream, start):
                inputs, labels = self.dist.to_device(inputs, labels)
                alpha = self.alpha_value(t)
                losses = self.train_step(inputs, labels, alpha, len(batches[i]))
                self.step_in_epoch, self.global_step = i + 1, self.global_step + 1
                n = len(labels)
                seen += n
                for k in ("total", "cls", "mm"):  # on the device: no host synchronisation per step
                    self.sums[k] += losses.get(k, 0.0) * n
                self.sums["n"] += n
                last = i + 1 == len(batches)
                if self.global_step % r.train.log_every == 0 or last:
                    now = time.perf_counter()
                    self.report.step(events.Step(epoch=t, step=i + 1, global_step=self.global_step,
                              losses={k: float(v) for k, v in losses.items()},
                              alpha=alpha, lr=self.current_lr(),
                              samples_per_s=round(seen / max(now - tick, 1e-9), 1)))
                    tick, seen = now, 0
                update = self.alpha.on_train_batch_end(self.ctx, t, self.global_step) if self.method.uses_alpha else None
                if update:
                    self.report.alpha_updated(events.AlphaUpdated.build(epoch=t, **update))
                self.agree_on_stop()
                if self.stopping and not last:
                    self.save_checkpoint(layout.LAST)
                    return "cancelled"
            self.end_epoch(t, alpha)
            if self.stopping and self.epoch <= r.train.epochs:
                return "cancelled"
        return "ok"

    def agree_on_stop(self) -> None:
        """Every rank stops at the same step: a stop is acted on only through the value all ranks
        agreed on here, never through the flag a signal may set on one rank a moment later."""
        self.stopping = self.dist.any(self.stop_requested) if self.dist.enabled else self.stop_requested

    def end_epoch(self, t: int, alpha: float) -> None:
        n = max(self.sums["n"], 1)
        mean = {k: float(self.sums[k]) / n for k in ("total", "cls", "mm")}  # read once per epoch
        val = self.evaluator.evaluate("val", t, alpha=self.alpha.value(max(self.epoch, 1)))
        update = self.alpha.on_validation_end(self.ctx, t) if self.method.uses_alpha else None
        if update:
            self.report.alpha_updated(events.AlphaUpdated.build(epoch=t, **update))
        report = self.method.on_validation_end(self.ctx, t)
        # the epoch's training summary, one log event right after its validation (`epoch`: the
        # plain log puts both on the epoch's one line, lfm_tui/lines.py)
        self.report.log(events.Log(
            level="info", epoch=t,
            message=f"epoch {t}: train loss {mean['total']:.4f} "
                    f"(cls {mean['cls']:.4f}, mm {mean['mm']:.4f}), alpha {alpha:.4f}"
                    + (f"; {self.method.name} " + ", ".join(f"{k} {v}" for k, v in report.items())
                       if report else "")))
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(val["loss"])
            else:
                self.scheduler.step()
        improved = self.is_better(val)
        if improved:
            self.best = {"epoch": t, "loss": val["loss"], **val["fused"], "gap": val["gap"],
                         **{f"{k}_{m}": v for m, mm in val["modalities"].items() for k, v in mm.items()}}
            self.best_epoch = t
        self.epoch, self.step_in_epoch = t + 1, 0
        self.sums = {"total": 0.0, "cls": 0.0, "mm": 0.0, "n": 0}
        self.save_checkpoint(layout.LAST)
        if improved:
            self.save_checkpoint(layout.BEST, best=True)
        self.agree_on_stop()  # a stop asked for during the epoch's evaluation ends the run here

    def is_better(self, val: dict) -> bool:
        key = self.recipe.eval.select
        if self.best is None:
            return True
        if key == "loss":
            return val["loss"] < self.best["loss"]
        return val["fused"][key] > self.best[key]

    def test(self) -> dict:
        """The test split, once, with the best-on-validation weights."""
        path = layout.checkpoint(self.run_dir, layout.BEST)
        best = ckpt.load(path)
        if best.get("best_epoch") != self.best_epoch:
            raise UserError(f"{path} holds epoch {best.get('best_epoch')}, but the run's best is epoch "
                            f"{self.best_epoch}: the checkpoints do not belong together")
        self.model.load_state_dict(best["model"])  # every rank reads rank 0's file
        if self.probes is not None:
            self.probes.load_state_dict(best, optimizer=False)
        return self.evaluator.evaluate("test", best["best_epoch"], alpha=self.alpha.value(max(self.epoch, 1)))
