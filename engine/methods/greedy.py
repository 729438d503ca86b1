"""Greedy: "Characterizing and overcoming the greedy nature of learning in multi-modal deep
neural networks" (Wu, Jastrzebski, Cho, Geras, ICML 2022), the guided ("strong") algorithm of
the authors' code.

Two branches, each an encoder and its own linear head, coupled by MMTM blocks between their
stages (engine/models/mmtm.py, `method.mmtm.*`); the prediction is the mean of the two heads'
logits, the loss the sum of their cross-entropies. The conditional learning speed, after each
regular step's backward: for branch m, r_main = sum ||grad||^2 / sum ||theta||^2 over its encoder
and head, r_byp the same over the MMTM parameters that produce m's gates (every block's
excitation of m, and every block's shared squeeze layer, counted for both branches); their
cumulative sums M_main, M_byp (never reset) give BDR_m = log10(M_byp / M_main) and d = BDR_0 -
BDR_1. From epoch `start` (2) on, when |d| > `epsilon` (0.01) the next `window` (5) steps
re-balance for branch c (the first modality if d > 0, else the second): in every block, c's
gates are replaced by their running average, which cuts the cross-modal flow into branch c, so
it must learn on its own; all parameters still train, and these steps do not add to M. A
parameter without gradient counts as zero (the code breaks on it). The running averages are
per modality (the code averages the first modality's gates into both) and updated in training
only. Exactly two modalities, as all the code; the utilisation-rate diagnostic is not computed.
"""
from __future__ import annotations

import math

import torch.nn.functional as F

from engine.methods.base import Method
from engine.methods.mmtm import attach_mmtm


def speed(params) -> float:
    """sum ||grad||^2 / sum ||theta||^2 (a missing gradient counts as zero)."""
    g = sum(float(p.grad.pow(2).sum()) for p in params if p.grad is not None)
    w = sum(float(p.detach().pow(2).sum()) for p in params)
    return g / w if w > 0 else 0.0


def imbalance(main: list[float], bypass: list[float]) -> float:
    """d = BDR_0 - BDR_1, BDR_m = log10(M_byp,m / M_main,m)."""
    bdr = [math.log10(max(b, 1e-30) / max(m, 1e-30)) for m, b in zip(main, bypass)]
    return bdr[0] - bdr[1]


class Greedy(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.greedy
        self.sums = {"main": [0.0, 0.0], "bypass": [0.0, 0.0]}
        self.caring: str | None = None
        self.left = 0
        self.last_d = 0.0

    def configure_model(self, model, data):
        attach_mmtm(model, data, self.recipe.method.mmtm, self.name)

    def on_fit_start(self, run, optimizer):
        model = run.model
        blocks = model.intermediate.blocks
        shared = [p for b in blocks for p in b.squeeze.parameters()]
        self.main = [[*model.encoders[m].parameters(), *model.fusion.heads[m].parameters()]
                     for m in model.modalities]
        self.bypass = [[*shared, *(p for b in blocks for p in b.excitation[m].parameters())]
                       for m in model.modalities]

    def forward(self, net, inputs, step):
        caring = self.caring

        def rebalancing(model, inputs):  # the caring branch's gates replaced by their running average
            model.intermediate.caring = caring
            try:
                return model(inputs)
            finally:
                model.intermediate.caring = None

        return net(inputs, through=rebalancing) if caring is not None else net(inputs)

    def loss(self, out, labels, step):
        parts = step.model.unimodal_logits(out.features)
        terms = {f"uni_{m}": F.cross_entropy(p, labels) for m, p in parts.items()}
        return {"total": sum(terms.values()), "cls": F.cross_entropy(out.logits, labels), **terms}

    def on_after_backward(self, out, labels, losses, step):
        if self.caring is not None:  # a re-balancing step: no speed accumulated
            self.left -= 1
            if self.left == 0:
                self.caring = None
            return
        for i in range(2):
            self.sums["main"][i] += speed(self.main[i])
            self.sums["bypass"][i] += speed(self.bypass[i])
        self.last_d = imbalance(self.sums["main"], self.sums["bypass"])
        if step.epoch >= self.cfg.start and abs(self.last_d) > self.cfg.epsilon:
            self.caring = step.model.modalities[0] if self.last_d > 0 else step.model.modalities[1]
            self.left = self.cfg.window

    def on_validation_end(self, run, epoch):
        return {"d (BDR_0 - BDR_1)": round(self.last_d, 4)}

    def state_dict(self):
        return {"sums": {k: list(v) for k, v in self.sums.items()}, "caring": self.caring or "",
                "left": self.left, "last_d": self.last_d}

    def load_state_dict(self, state):
        if "sums" in state:
            self.sums = {k: list(v) for k, v in state["sums"].items()}
            self.caring = state["caring"] or None
            self.left, self.last_d = int(state["left"]), float(state["last_d"])
