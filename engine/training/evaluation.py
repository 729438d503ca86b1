"""Evaluation of a whole split: the model's fused and per-modality predictions, their metrics
and confusion matrices, the `eval` event, the test split's saved probabilities, and the
per-modality probes.

Under DDP each rank predicts every world-th sample and the parts are gathered, so every sample
is evaluated exactly once; each eval event then carries every rank's alpha and a checksum of
its weights."""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.training import confusion
from engine.training.callbacks import Report

from engine.contract import events, layout, writes
from engine.contract.context import RunContext
from engine.contract.errors import Diverged
from engine.data.base import iter_batches
from engine.training.metrics import classification_metrics, modality_gap, performance_gap


class Probes:
    """`eval.unimodal = "probe"`: a linear head per modality trained on detached features; it
    never touches the model."""

    def __init__(self, modalities, feature_dim: int, num_classes: int, device: torch.device):
        self.heads = torch.nn.ModuleDict(
            {m: torch.nn.Linear(feature_dim, num_classes) for m in modalities}).to(device)
        self.optimizer = torch.optim.Adam(self.heads.parameters(), lr=1e-3)

    def train_step(self, features: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        loss = sum(F.cross_entropy(self.heads[m](f.detach()), labels) for m, f in features.items())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach().double() / len(features)  # on the device: read where the loop logs it

    def parts(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.heads.eval()
        return {m: self.heads[m](f).float().cpu() for m, f in features.items()}

    def state_dict(self) -> dict:
        return {"probes": self.heads.state_dict(), "probe_optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict, optimizer: bool = True) -> None:
        if state.get("probes") is not None:
            self.heads.load_state_dict(state["probes"])
            if optimizer:
                self.optimizer.load_state_dict(state["probe_optimizer"])


class Evaluator:
    def __init__(self, ctx: RunContext, report: Report, run_dir: Path, probes: Probes | None = None,
                 autocast=None):
        self.ctx, self.report, self.run_dir = ctx, report, Path(run_dir)
        self.probes = probes
        self.autocast = autocast or contextlib.nullcontext()

    @torch.no_grad()
    def predict(self, split: str) -> dict:
        """Logits and features of a whole split, in the split's order."""
        ctx = self.ctx
        model, dist = ctx.model, ctx.dist
        model.eval()
        s = ctx.data.split(split)
        bs = ctx.recipe.data.eval_batch_size
        order = dist.shard(torch.arange(len(s)))
        logits, feats = [], {m: [] for m in model.modalities}
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
        for inputs, labels in iter_batches(s, batches, ctx.recipe.data.workers, pin_memory=dist.pin_memory):
            inputs, _ = dist.to_device(inputs, labels)
            with self.autocast:
                out = model(inputs)
            logits.append(out.logits.float().cpu())
            for m in feats:
                feats[m].append(out.features[m].float().cpu())
        n_feat = {m: (v[0].shape[1] if v else 0) for m, v in feats.items()}
        part = {"index": order,
                "logits": torch.cat(logits) if logits else torch.zeros(0, ctx.data.num_classes),
                "features": {m: torch.cat(v) if v else torch.zeros(0, n_feat[m]) for m, v in feats.items()}}
        if dist.enabled:
            parts = dist.gather(part)
            index = torch.cat([p["index"] for p in parts])
            back = torch.argsort(index)
            part = {"index": index[back], "logits": torch.cat([p["logits"] for p in parts])[back],
                    "features": {m: torch.cat([p["features"][m] for p in parts])[back] for m in feats}}
        return {"logits": part["logits"], "features": part["features"], "labels": s.labels[part["index"]]}

    @torch.no_grad()
    def evaluate(self, split: str, epoch: int, alpha: float = 0.0) -> dict:
        """Scores `split`, emits its `eval` event and, for the test split, saves predictions.npz."""
        ctx = self.ctx
        p = self.predict(split)
        labels = p["labels"]
        y = labels.numpy()
        c = ctx.data.num_classes
        feats = {m: f.to(ctx.dist.device) for m, f in p["features"].items()}
        if self.probes is not None:
            parts = self.probes.parts(feats)
        else:
            parts = {m: v.float().cpu() for m, v in ctx.model.unimodal_logits(feats).items()}
        for name, out in (("fused", p["logits"]), *parts.items()):  # every rank holds the same: all stop
            if not bool(torch.isfinite(out).all()):
                raise Diverged(f"the run diverged: the model's {name} outputs on the {split} split are not finite "
                               f"(NaN or infinity) at epoch {epoch}; a lower optim.lr may keep it stable")
        loss = float(F.cross_entropy(p["logits"], labels))
        probs = p["logits"].softmax(1)
        fused = classification_metrics(probs.numpy(), y, c)
        per_mod = {m: classification_metrics(v.softmax(1).numpy(), y, c) for m, v in parts.items()}
        result = {"split": split, "epoch": epoch, "loss": loss, "fused": fused, "modalities": per_mod,
                  "gap": performance_gap(per_mod), "modality_gap": modality_gap(p["features"]),
                  "samples": len(y), "unimodal": ctx.recipe.eval.unimodal}
        if c <= confusion.MAX_CLASSES:  # per head: rows of counts, true class by predicted class
            result["confusion"] = {"fused": confusion.counts(y, probs.argmax(1).numpy(), c),
                                   **{m: confusion.counts(y, v.argmax(1).numpy(), c) for m, v in parts.items()}}
        if ctx.dist.enabled:
            result["ranks"] = self.rank_check(alpha)
        if split == "test" and ctx.dist.main:
            self.save_predictions(labels, probs, parts)
        self.report.eval(events.Eval.build(**result))
        return result

    def save_predictions(self, labels: torch.Tensor, probs: torch.Tensor, parts: dict) -> Path:
        """predictions.npz: per test sample, its position in the dataset, its label, and the
        class probabilities of the fused prediction and of each modality's part (logits in
        `parts`); what `lfm ensemble` combines across runs."""
        path = self.run_dir / layout.PREDICTIONS
        with writes.atomic_open(path) as fh:
            np.savez_compressed(fh, index=np.asarray(self.ctx.data.test.indices, dtype=np.int64),
                                label=labels.numpy(), fused=probs.numpy().astype(np.float32),
                                modalities=np.array(list(parts)),
                                **{f"part_{m}": v.softmax(1).numpy().astype(np.float32) for m, v in parts.items()})
        return path

    def rank_check(self, alpha: float) -> dict:
        """Every rank's alpha and a checksum of its weights: DDP keeps them identical."""
        checksum = float(sum(p.detach().double().sum() for p in self.ctx.model.parameters()))
        got = self.ctx.dist.gather((alpha, checksum))
        return {"world_size": self.ctx.dist.world, "alphas": [a for a, _ in got], "checksums": [c for _, c in got]}
