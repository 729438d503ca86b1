"""The training loop of the paper's Algorithm 1: epochs as the outer loop with alpha fixed during
each, the alpha strategy updated after each; validation every epoch; the best-on-validation
checkpoint kept; the test split evaluated once at the end with that checkpoint.

Lifecycle: `setup()` (data, model, optimiser, state from a checkpoint), `train()`,
`save_checkpoint()`, `test()`.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine import checkpoint as ckpt
from engine.alpha import build_strategy
from engine.data import load_dataset
from engine.data.base import epoch_batches, iter_batches, steps_per_epoch
from engine.dist import Dist
from engine.events import PROTOCOL_VERSION, Emitter
from engine.methods import StepContext, build_method
from engine.metrics import classification_metrics, modality_gap, performance_gap
from engine.models import build_model
from engine.recipe import Recipe, to_dict


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2 ** 32))


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


class Trainer:
    def __init__(self, recipe: Recipe, run_dir: Path, emitter: Emitter, resume_state: dict | None = None,
                 dist: Dist | None = None):
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        self.emit = emitter.emit
        self.resume_state = resume_state
        self.stop_requested = False
        self.dist = dist or Dist()

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        r = self.recipe
        if r.train.threads:
            torch.set_num_threads(r.train.threads)
        set_seed(r.train.seed)
        self.data = load_dataset(r)
        set_seed(r.train.seed)  # model initialisation independent of what loading consumed
        self.device = self.dist.device
        self.model = build_model(r, self.data)
        self.method = build_method(r)
        self.method.attach(self.model, self.data)
        self.model = self.model.to(self.device)
        cuda = self.device.type == "cuda"
        if cuda and r.train.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cuda and r.train.precision == "bf16"
                         else contextlib.nullcontext())
        # `net` is what the training step calls: the model, under DDP and torch.compile if asked;
        # evaluation, checkpoints and the hypergradient use `model` itself.
        self.net = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            if not self.method.distributed:
                from engine.errors import UserError

                raise UserError(f"method.name: {self.method.name!r} changes the forward pass or the gradients "
                                f"per process and does not run under several processes yet; run it with one")
            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if cuda else None)
        if r.train.compile:
            self.net = torch.compile(self.net)
        self.optimizer = build_optimizer(r.optim, self.model.parameters())
        self.scheduler = build_scheduler(r.schedule, self.optimizer, r.train.epochs)
        self.alpha = build_strategy(r.alpha, r.train.epochs)
        self.probes = None
        if r.eval.unimodal == "probe":
            # One linear head per modality on detached features: it never touches the model.
            self.probes = torch.nn.ModuleDict(
                {m: torch.nn.Linear(r.model.feature_dim, self.data.num_classes) for m in self.model.modalities}
            ).to(self.device)
            self.probe_optimizer = torch.optim.Adam(self.probes.parameters(), lr=1e-3)
        self.steps_per_epoch = steps_per_epoch(len(self.data.train), r.data.batch_size)
        self.epoch, self.step_in_epoch, self.global_step = 1, 0, 0
        self.best: dict | None = None
        self.best_epoch = 0
        self.sums = {"total": 0.0, "cls": 0.0, "mm": 0.0, "n": 0}
        self.method.setup(self)
        if self.resume_state is not None:
            self.load_state(self.resume_state)

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
            "probes": self.probes.state_dict() if self.probes is not None else None,
            "probe_optimizer": self.probe_optimizer.state_dict() if self.probes is not None else None,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "sums": dict(self.sums),
            "rng": torch.get_rng_state(),
            "rng_ranks": self.dist.gather(torch.get_rng_state()) if self.dist.enabled else None,
            "world_size": self.dist.world,
        }

    def load_state(self, s: dict) -> None:
        self.model.load_state_dict(s["model"])
        self.optimizer.load_state_dict(s["optimizer"])
        if self.scheduler is not None and s["scheduler"] is not None:
            self.scheduler.load_state_dict(s["scheduler"])
        self.alpha.load_state_dict(s["alpha"])
        self.method.load_state_dict(s.get("method", {}))
        if self.probes is not None and s.get("probes") is not None:
            self.probes.load_state_dict(s["probes"])
            self.probe_optimizer.load_state_dict(s["probe_optimizer"])
        self.epoch, self.step_in_epoch = s["epoch"], s["step_in_epoch"]
        self.global_step = s["global_step"]
        self.best, self.best_epoch = s["best"], s["best_epoch"]
        self.sums = dict(s["sums"])
        saved_world = s.get("world_size", 1)
        if saved_world != self.dist.world:
            from engine.errors import UserError

            raise UserError(f"the checkpoint was written by {saved_world} process(es); resume it with "
                            f"the same number (--nproc-per-node {saved_world})")
        torch.set_rng_state(s["rng_ranks"][self.dist.rank] if self.dist.enabled else s["rng"])

    def save_checkpoint(self, name: str, best: bool = False) -> Path:
        path = self.run_dir / "checkpoints" / name
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

    def train_step(self, inputs: dict, labels: torch.Tensor, alpha: float, global_size: int = 0) -> dict[str, float]:
        self.net.train()
        # under DDP, a matching loss sees the whole global batch (embeddings gathered over ranks)
        gather = (lambda e: self.dist.all_gather_cat(e, global_size)) if self.dist.enabled else None
        ctx = StepContext(self.epoch, self.step_in_epoch, self.global_step, alpha, self.model, gather)
        with self.autocast:
            out = self.method.forward(self.net, inputs, ctx)
            terms = self.method.loss_terms(out, labels, ctx)
        self.optimizer.zero_grad(set_to_none=True)
        self.method.backward(terms, self.model, ctx)
        self.method.after_backward(self.model, out, labels, ctx)
        self.optimizer.step()
        losses = {k: v.item() for k, v in terms.items()}
        if self.probes is not None:
            l_probe = sum(F.cross_entropy(self.probes[m](f.detach()), labels) for m, f in out.features.items())
            self.probe_optimizer.zero_grad(set_to_none=True)
            l_probe.backward()
            self.probe_optimizer.step()
            losses["probe"] = l_probe.item() / len(out.features)
        return losses

    def train(self) -> str:
        """Runs the remaining epochs; returns "ok" or "cancelled"."""
        r = self.recipe
        bs = r.data.batch_size
        while self.epoch <= r.train.epochs:
            t = self.epoch
            alpha = self.alpha.value(t) if self.method.uses_alpha else 0.0
            batches = epoch_batches(len(self.data.train), bs, r.train.seed, t)
            tick, seen = time.perf_counter(), 0
            start = self.step_in_epoch
            shards = [self.shard(b) for b in batches[start:]]
            stream = iter_batches(self.data.train, shards, r.data.workers, pin_memory=self.device.type == "cuda")
            for i, (inputs, labels) in enumerate(stream, start):
                inputs, labels = self.to_device(inputs, labels)
                alpha = self.alpha.value(t) if self.method.uses_alpha else 0.0
                losses = self.train_step(inputs, labels, alpha, len(batches[i]))
                self.step_in_epoch, self.global_step = i + 1, self.global_step + 1
                n = len(labels)
                seen += n
                for k in ("total", "cls", "mm"):
                    self.sums[k] += losses.get(k, 0.0) * n
                self.sums["n"] += n
                last = i + 1 == len(batches)
                if self.global_step % r.train.log_every == 0 or last:
                    now = time.perf_counter()
                    self.emit("step", epoch=t, step=i + 1, global_step=self.global_step, losses=losses,
                              alpha=alpha, lr=self.current_lr(),
                              samples_per_s=round(seen / max(now - tick, 1e-9), 1))
                    tick, seen = now, 0
                update = self.alpha.after_step(t, self.global_step, trainer=self) if self.method.uses_alpha else None
                if update:
                    self.emit("alpha_updated", epoch=t, **update)
                if self.dist.enabled:  # every rank stops at the same step
                    self.stop_requested = self.dist.any(self.stop_requested)
                if self.stop_requested and not last:
                    self.save_checkpoint("last.pt")
                    return "cancelled"
            self.end_epoch(t, alpha)
            if self.stop_requested and self.epoch <= r.train.epochs:
                return "cancelled"
        return "ok"

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch."""
        return idx[self.dist.rank::self.dist.world] if self.dist.enabled else idx

    def to_device(self, inputs: dict, labels: torch.Tensor) -> tuple[dict, torch.Tensor]:
        if self.device.type == "cpu":
            return inputs, labels
        return ({m: x.to(self.device, non_blocking=True) for m, x in inputs.items()},
                labels.to(self.device, non_blocking=True))

    def end_epoch(self, t: int, alpha: float) -> None:
        n = max(self.sums["n"], 1)
        self.emit("log", level="info",
                  message=f"epoch {t}: train loss {self.sums['total'] / n:.4f} "
                          f"(cls {self.sums['cls'] / n:.4f}, mm {self.sums['mm'] / n:.4f}), alpha {alpha:.4f}")
        if self.dist.enabled:
            self.stop_requested = self.dist.any(self.stop_requested)
        val = self.evaluate("val", t)
        update = self.alpha.end_epoch(t, trainer=self) if self.method.uses_alpha else None
        if update:
            self.emit("alpha_updated", epoch=t, **update)
        report = self.method.end_epoch(self, t)
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
        self.save_checkpoint("last.pt")
        if improved:
            self.save_checkpoint("best.pt", best=True)

    def is_better(self, val: dict) -> bool:
        key = self.recipe.eval.select
        if self.best is None:
            return True
        if key == "loss":
            return val["loss"] < self.best["loss"]
        return val["fused"][key] > self.best[key]

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def predict(self, split: str) -> dict:
        """Logits and features of a whole split. Under DDP each rank predicts every world-th
        sample and the parts are gathered, so every sample is evaluated exactly once."""
        self.model.eval()
        s = self.data.split(split)
        bs = self.recipe.data.eval_batch_size
        order = self.shard(torch.arange(len(s)))
        logits, feats = [], {m: [] for m in self.model.modalities}
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
        for inputs, labels in iter_batches(s, batches, self.recipe.data.workers,
                                           pin_memory=self.device.type == "cuda"):
            inputs, _ = self.to_device(inputs, labels)
            with self.autocast:
                out = self.model(inputs)
            logits.append(out.logits.float().cpu())
            for m in feats:
                feats[m].append(out.features[m].float().cpu())
        n_feat = {m: (v[0].shape[1] if v else 0) for m, v in feats.items()}
        part = {"index": order,
                "logits": torch.cat(logits) if logits else torch.zeros(0, self.data.num_classes),
                "features": {m: torch.cat(v) if v else torch.zeros(0, n_feat[m]) for m, v in feats.items()}}
        if self.dist.enabled:
            parts = self.dist.gather(part)
            index = torch.cat([p["index"] for p in parts])
            back = torch.argsort(index)
            part = {"index": index[back], "logits": torch.cat([p["logits"] for p in parts])[back],
                    "features": {m: torch.cat([p["features"][m] for p in parts])[back] for m in feats}}
        return {"logits": part["logits"], "features": part["features"], "labels": s.labels[part["index"]]}

    @torch.no_grad()
    def evaluate(self, split: str, epoch: int) -> dict:
        p = self.predict(split)
        labels = p["labels"]
        y = labels.numpy()
        c = self.data.num_classes
        loss = float(F.cross_entropy(p["logits"], labels))
        probs = p["logits"].softmax(1)
        fused = classification_metrics(probs.numpy(), y, c)
        feats = {m: f.to(self.device) for m, f in p["features"].items()}
        if self.probes is not None:
            self.probes.eval()
            parts = {m: self.probes[m](f).float().cpu() for m, f in feats.items()}
        else:
            parts = {m: v.float().cpu() for m, v in self.model.unimodal_logits(feats).items()}
        per_mod = {m: classification_metrics(v.softmax(1).numpy(), y, c) for m, v in parts.items()}
        result = {"split": split, "epoch": epoch, "loss": loss, "fused": fused, "modalities": per_mod,
                  "gap": performance_gap(per_mod), "modality_gap": modality_gap(p["features"]),
                  "samples": len(y), "unimodal": self.recipe.eval.unimodal}
        if self.dist.enabled:
            result["ranks"] = self.rank_check()
        if split == "test" and self.dist.main:
            self.save_predictions(p["labels"], probs, parts)
        self.emit("eval", **result)
        return result

    def save_predictions(self, labels: torch.Tensor, probs: torch.Tensor, parts: dict) -> Path:
        """predictions.npz: per test sample, its position in the dataset, its label, and the
        class probabilities of the fused prediction and of each modality's part (logits in
        `parts`); what `lfm ensemble` combines across runs."""
        path = self.run_dir / "predictions.npz"
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, index=np.asarray(self.data.test.indices, dtype=np.int64), label=labels.numpy(),
                            fused=probs.numpy().astype(np.float32),
                            modalities=np.array(list(parts)),
                            **{f"part_{m}": v.softmax(1).numpy().astype(np.float32) for m, v in parts.items()})
        tmp.replace(path)
        return path

    def rank_check(self) -> dict:
        """Every rank's alpha and a checksum of its weights: DDP keeps them identical."""
        checksum = float(sum(p.detach().double().sum() for p in self.model.parameters()))
        got = self.dist.gather((self.alpha.value(max(self.epoch, 1)), checksum))
        return {"world_size": self.dist.world, "alphas": [a for a, _ in got], "checksums": [c for _, c in got]}

    def test(self) -> dict:
        """The test split, once, with the best-on-validation weights."""
        best = ckpt.load(self.run_dir / "checkpoints" / "best.pt")
        self.model.load_state_dict(best["model"])  # every rank reads rank 0's file
        if self.probes is not None and best.get("probes") is not None:
            self.probes.load_state_dict(best["probes"])
        return self.evaluate("test", best["best_epoch"])

