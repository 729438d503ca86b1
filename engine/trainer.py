"""The training loop of the paper's Algorithm 1: epochs as the outer loop with alpha fixed during
each, the alpha strategy updated after each; validation every epoch; the best-on-validation
checkpoint kept; the test split evaluated once at the end with that checkpoint.

The trainer holds the loop and its state only; everything it works with is built once in
engine/setup.py and handed to it. Alpha strategies and methods see the run through a
`RunContext`, never through the trainer.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from engine import checkpoint as ckpt
from engine import layout
from engine.context import RunContext
from engine.data.base import epoch_batches, iter_batches, steps_per_epoch
from engine.errors import UserError
from engine.evaluation import Evaluator, Probes
from engine.events import PROTOCOL_VERSION
from engine.methods.base import Step
from engine.recipe import to_dict


class Trainer:
    def __init__(self, ctx: RunContext, *, method, net, autocast, optimizer, scheduler, alpha,
                 evaluator: Evaluator, probes: Probes | None, run_dir: Path, emit: Callable):
        self.ctx, self.recipe, self.data, self.model, self.dist = ctx, ctx.recipe, ctx.data, ctx.model, ctx.dist
        self.method, self.net, self.autocast = method, net, autocast
        self.optimizer, self.scheduler, self.alpha = optimizer, scheduler, alpha
        self.evaluator, self.probes = evaluator, probes
        self.run_dir, self.emit = Path(run_dir), emit
        self.stop_requested = False  # set by the signal handler, at any instant
        self.stopping = False        # what every rank agreed on at the last agreement point
        self.steps_per_epoch = steps_per_epoch(len(self.data.train), self.recipe.data.batch_size)
        self.epoch, self.step_in_epoch, self.global_step = 1, 0, 0
        self.best: dict | None = None
        self.best_epoch = 0
        self.sums = {"total": 0.0, "cls": 0.0, "mm": 0.0, "n": 0}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "protocol": PROTOCOL_VERSION,
            "recipe": to_dict(self.recipe),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "alpha": self.alpha.state_dict(),
            "method": self.method.state_dict(),
            **(self.probes.state_dict() if self.probes is not None else {"probes": None, "probe_optimizer": None}),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "sums": {k: float(v) for k, v in self.sums.items()},
            "rng": torch.get_rng_state(),
            "rng_ranks": self.dist.gather(torch.get_rng_state()) if self.dist.enabled else None,
            "world_size": self.dist.world,
        }

    # what a checkpoint must hold for a run to continue from it
    STATE_KEYS = ("model", "optimizer", "scheduler", "alpha", "epoch", "step_in_epoch", "global_step",
                  "best", "best_epoch", "sums", "rng")

    def load_state(self, s: dict, source: str = "the checkpoint") -> None:
        """The run's state from a checkpoint; a UserError (one message) for a checkpoint that
        lacks keys or does not fit the model and optimiser the run's recipe.toml builds."""
        missing = [k for k in self.STATE_KEYS if k not in s]
        if missing:
            raise UserError(f"{source} lacks {', '.join(missing)}: it is damaged or was not written by this engine")
        saved_world = s.get("world_size", 1)
        if saved_world != self.dist.world:
            raise UserError(f"the checkpoint was written by {saved_world} process(es); resume it with "
                            f"the same number (--nproc-per-node {saved_world})")
        try:
            self.model.load_state_dict(s["model"])
            self.optimizer.load_state_dict(s["optimizer"])
            if self.scheduler is not None and s["scheduler"] is not None:
                self.scheduler.load_state_dict(s["scheduler"])
            self.alpha.load_state_dict(s["alpha"])
            self.method.load_state_dict(s.get("method") or {})
            if self.probes is not None:
                self.probes.load_state_dict(s)
            step, total = int(s["step_in_epoch"]), int(s["global_step"])
            if not 0 <= step <= self.steps_per_epoch or not 0 <= total <= int(s["epoch"]) * self.steps_per_epoch:
                raise ValueError(f"step_in_epoch {step} and global_step {total} are not steps of this run's "
                                 f"{self.steps_per_epoch} per epoch")
            self.epoch, self.step_in_epoch = int(s["epoch"]), int(s["step_in_epoch"])
            self.global_step = int(s["global_step"])
            self.best, self.best_epoch = s["best"], int(s["best_epoch"])
            self.sums = {k: float(s["sums"][k]) for k in ("total", "cls", "mm", "n")}
            torch.set_rng_state(s["rng_ranks"][self.dist.rank] if self.dist.enabled else s["rng"])
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{source} does not fit the model and optimiser that the run's {layout.RECIPE} "
                            f"builds (was {layout.RECIPE} edited after the run?): {first[:300]}") from None
        self.sums["n"] = int(self.sums["n"])

    def save_checkpoint(self, name: str, best: bool = False) -> Path:
        path = layout.checkpoint(self.run_dir, name)
        state = self.state_dict()  # a collective under DDP: every rank builds it
        if self.dist.main:
            ckpt.save(state, path)
        self.dist.barrier()  # no rank reads a checkpoint before rank 0 has written it
        if not self.dist.main:
            return path
        # epoch: the last completed epoch at an epoch boundary, else the epoch in progress.
        epoch = self.epoch - 1 if self.step_in_epoch == 0 else self.epoch
        self.emit("checkpoint", path=str(path), epoch=epoch, step=self.step_in_epoch, best=best)
        return path

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
                    self.emit("step", epoch=t, step=i + 1, global_step=self.global_step,
                              losses={k: float(v) for k, v in losses.items()},
                              alpha=alpha, lr=self.current_lr(),
                              samples_per_s=round(seen / max(now - tick, 1e-9), 1))
                    tick, seen = now, 0
                update = self.alpha.on_train_batch_end(self.ctx, t, self.global_step) if self.method.uses_alpha else None
                if update:
                    self.emit("alpha_updated", epoch=t, **update)
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
        self.emit("log", level="info",
                  message=f"epoch {t}: train loss {mean['total']:.4f} "
                          f"(cls {mean['cls']:.4f}, mm {mean['mm']:.4f}), alpha {alpha:.4f}")
        val = self.evaluator.evaluate("val", t, alpha=self.alpha.value(max(self.epoch, 1)))
        update = self.alpha.on_validation_end(self.ctx, t) if self.method.uses_alpha else None
        if update:
            self.emit("alpha_updated", epoch=t, **update)
        report = self.method.on_validation_end(self.ctx, t)
        if report:
            self.emit("log", level="info", message=f"epoch {t}: {self.method.name} "
                      + ", ".join(f"{k} {v}" for k, v in report.items()))
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
