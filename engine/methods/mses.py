"""MSES: "Modality-Specific Learning Rate Control for Multimodal Classification" (Fujimori,
Endo, Kawai, Mochizuki, ACPR 2019, LNCS 12047), modality-specific early stopping.

As the paper's abstract describes it: a multitask model learns the modality-specific
classifiers and the multimodal one together, and overfitting is detected and early stopping
carried out per modality, the modality's learning rate dropping to zero. The heads the
criterion reads (`criterion_logits`): with `method.mses.multitask` true, an auxiliary linear
head per modality, trained with the fused cross-entropy plus each head's; false, the fused
cross-entropy alone, as the only reference implementation (the MSES branch of the AGM authors'
CREMA-D script, run/CREMAD_main.py; MSES has no code of its own), whose criterion reads the
per-modality heads of its sum-fusion model (AVClassifier_Sum: out = out_a + out_v, the losses
CE(out_a), CE(out_v)), the heads that the fused cross-entropy trains. So multitask false needs
`model.fusion = "sum"` (a recipe check refuses another fusion) and reads `model.fusion.heads`,
whose logits add up to the fused ones; no auxiliary head is added. The criterion, from that
reference (the paper's exact rule is unverified): after each epoch t, the cross-entropy L_j(t)
of modality j's head on the validation split (never the test split, which the reference uses),
smoothed as 0.6 L_j(t - 1) + 0.4 L_j(t) (the raw previous loss; `smoothing` is the 0.4); its
best epoch t*_j the argmin of the smoothed loss; when t - t*_j > `patience` the modality stops. Patience 5 here (the reference: 10 to 80 epochs, for
budgets of hundreds; choose it relative to train.epochs).

A stopped modality's parameters (its encoder, projection and head: `modality_parameters`) get
grad = None from then on, so neither momentum nor weight decay moves them (the reference
multiplies their gradients by zero, which leaves both running); the fused classifier keeps
training. With `restore` they first get back their values of epoch t*_j (the reference rolls
back the whole model and optimiser instead, rewinding the modalities still training); the
restore is applied at the next step, so that best.pt holds the model that was validated.
Training goes on when every modality has stopped (the reference exits). The reference applies
its zero rate only inside its modulation window (`modulation_starts <= epoch <=
modulation_ends`, epochs 1 to 20 with its defaults), so with its patience of 80 a stopped
modality's rate never reaches zero there and only the rollback acts; here a stopped modality
stays stopped, whatever the epoch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.methods.base import Method, attach_aux_heads, freeze, modality_parameters, split_features


def criterion_logits(model, feats: dict[str, torch.Tensor], multitask: bool) -> dict[str, torch.Tensor]:
    """Each modality's head's logits, the ones the criterion reads: the auxiliary heads
    (multitask) or the sum fusion's own heads, whose logits add up to the fused ones."""
    if multitask:
        return {m: model.aux_heads[m](f) for m, f in feats.items()}
    return {m: model.fusion.heads[m](f) for m, f in feats.items()}


class EarlyStopping:
    """Per-modality early stopping on smoothed validation losses."""

    def __init__(self, modalities, patience: int, smoothing: float):
        self.patience, self.smoothing = patience, smoothing
        self.history: dict[str, list[float]] = {m: [] for m in modalities}
        self.best: dict[str, tuple[int, float]] = {}
        self.stopped: dict[str, int] = {}

    def smoothed(self, m: str) -> float:
        h = self.history[m]
        return h[-1] if len(h) == 1 else (1 - self.smoothing) * h[-2] + self.smoothing * h[-1]

    def update(self, t: int, losses: dict[str, float]) -> tuple[list[str], list[str]]:
        """Epoch t's validation losses; returns the modalities that improved and those that stop now."""
        improved, stop = [], []
        for m, loss in losses.items():
            if m in self.stopped:
                continue
            self.history[m].append(loss)
            s = self.smoothed(m)
            if m not in self.best or s < self.best[m][1]:
                self.best[m] = (t, s)
                improved.append(m)
            elif t - self.best[m][0] > self.patience:
                self.stopped[m] = t
                stop.append(m)
        return improved, stop

    def state_dict(self) -> dict:
        return {"history": {m: list(h) for m, h in self.history.items()},
                "best": {m: list(b) for m, b in self.best.items()}, "stopped": dict(self.stopped)}

    def load_state_dict(self, state: dict) -> None:
        self.history = {m: list(h) for m, h in state["history"].items()}
        self.best = {m: (int(b[0]), float(b[1])) for m, b in state["best"].items()}
        self.stopped = {m: int(t) for m, t in state["stopped"].items()}


class MSES(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.mses
        self.snapshots: dict[str, list[torch.Tensor]] = {}
        self.pending: list[str] = []  # stopped modalities whose parameters are restored at the next step

    def configure_model(self, model, data):
        if self.cfg.multitask:
            attach_aux_heads(model, data.num_classes, self.recipe.model.feature_dim)
        self.stopping = EarlyStopping(model.modalities, self.cfg.patience, self.cfg.smoothing)

    def on_fit_start(self, run, optimizer):
        self.params = modality_parameters(run.model)

    @torch.no_grad()
    def on_train_batch_start(self, step):
        """A modality stopped at the last validation gets back its best epoch's parameters."""
        for m in self.pending:
            for p, saved in zip(self.params[m], self.snapshots[m]):
                p.copy_(saved)
        self.pending = []

    def loss(self, out, labels, step):
        l_cls = F.cross_entropy(out.logits, labels)
        heads = criterion_logits(step.model, out.features, self.cfg.multitask)
        terms = {f"uni_{m}": F.cross_entropy(z, labels) for m, z in heads.items()}
        total = l_cls + sum(terms.values()) if self.cfg.multitask else l_cls
        return {"total": total, "cls": l_cls, **terms}

    def on_after_backward(self, out, labels, losses, step):
        for m in self.stopping.stopped:
            freeze(self.params[m])

    @torch.no_grad()
    def validation_losses(self, run) -> dict[str, float]:
        feats, labels = split_features(run.model, run.data.val, self.recipe.data.eval_batch_size)
        heads = criterion_logits(run.model, feats, self.cfg.multitask)
        return {m: float(F.cross_entropy(z, labels)) for m, z in heads.items()}

    def on_validation_end(self, run, epoch):
        improved, stop = self.stopping.update(epoch, self.validation_losses(run))
        for m in improved:
            self.snapshots[m] = [p.detach().clone() for p in self.params[m]]
        if self.cfg.restore:
            self.pending += stop
        report = {"stopped": {m: e for m, e in self.stopping.stopped.items()}} if self.stopping.stopped else {}
        if stop:
            report["stops now"] = {m: f"best epoch {self.stopping.best[m][0]}" for m in stop}
        return report or None

    def state_dict(self):
        return {"stopping": self.stopping.state_dict(), "pending": list(self.pending),
                "snapshots": {m: [p.clone() for p in ps] for m, ps in self.snapshots.items()}}

    def load_state_dict(self, state):
        if state.get("stopping"):
            self.stopping.load_state_dict(state["stopping"])
            self.pending = list(state["pending"])
            self.snapshots = {m: [p.clone() for p in ps] for m, ps in state["snapshots"].items()}
