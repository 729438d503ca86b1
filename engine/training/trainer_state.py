"""What a trainer's checkpoint holds, and how a run continues from one: the model's, optimiser's,
scheduler's, alpha strategy's, method's and probes' state, the loop's counters (epoch, step in
the epoch, global step), the best epoch so far, the epoch's running loss sums and the random
state of every rank. Written whole or not at all by engine/training/checkpoint.py.

`CheckpointedState` is a part of `Trainer` (engine/training/trainer.py): it reads and restores the
trainer's parts (`model`, `optimizer`, `scheduler`, `alpha`, `method`, `probes`, `dist`) and
counters (`epoch`, `step_in_epoch`, `global_step`, `best`, `best_epoch`, `sums`).
"""
from __future__ import annotations

from pathlib import Path

import torch

from engine.training import checkpoint as ckpt
from engine.contract import events, layout
from engine.contract.errors import UserError
from engine.contract.recipe import to_dict


class CheckpointedState:
    """The trainer's state as a checkpoint holds it: `state_dict`, `load_state` (a run continued
    from a checkpoint) and `save_checkpoint` (written by rank 0, then announced)."""

    def state_dict(self) -> dict:
        return {
            "protocol": events.PROTOCOL_VERSION,
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
        self.report.checkpoint(events.Checkpoint(path=str(path), epoch=epoch, step=self.step_in_epoch, best=best))
        return path
