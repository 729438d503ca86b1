"""MSLR: "Modality-specific Learning Rates for Effective Multimodal Additive Late-fusion" (Yao,
Mihalcea, Findings of ACL 2022).

Additive late fusion (the `sum` fusion: each modality its own head, the logits added), each
modality's encoder and head training at its own learning rate lr(t) c_j, lr(t) the recipe's
scheduled one. These are real optimiser groups (`modality_groups`: one per modality, one
shared), not gradients scaled after backward as in the only reference implementation (the AGM
authors' baseline): under Adam a constant gradient scale cancels in m / sqrt(v), and it never
scales weight decay. Each step the modality groups' rates are set to the shared group's
(scheduled) rate times c_j, so c_j composes with every schedule.

c_j = c0_j rho_j. c0 (`method.mslr.rates`, one per modality in data.modalities order; empty = 1
each) is the paper's "Keep" strategy: each modality keeps the rate that was best for its
unimodal model, which the user measures (e.g. `lfm sweep` of unimodal runs over optim.lr); the
reference used audio 0.9, visual 1.1 on CREMA-D. `strategy = "dynamic"` (the reference's form):
rho_j = 1 for the first `window` (5) epochs, then after each epoch t, rho_j = A_j(t) /
mean(A_j(t - window), ..., A_j(t - 1)), A_j the accuracy of modality j's head on the validation
split (the reference reads the test split, and its CREMA-D script counts the audio accuracy in
the visual branch). The paper's "Smooth" strategy and the exact rules of the three are
unverified.

The factors apply in the epochs t with `start` <= t <= `end` only, t counted from 1, as the
reference applies them (its CREMA-D script scales the gradients only when `modulation_starts <=
epoch <= modulation_ends`, epochs from 1, defaults 0 and 20: epochs 1 to 20); in the other epochs
every modality trains at the scheduled rate (c_j = 1, c0 included). The accuracies, and so rho,
are updated after every epoch, inside the window or not, as the reference does.
"""
from __future__ import annotations

import torch

from engine.methods.agm import modulated
from engine.methods.base import Method, group_of, modality_groups, split_features


def dynamic_ratio(history: list[float], window: int) -> float:
    """rho = the last accuracy over the mean of the `window` before it (1 until there are that many)."""
    if len(history) <= window:
        return 1.0
    before = history[-window - 1:-1]
    mean = sum(before) / window
    return history[-1] / mean if mean > 0 else 1.0


def rate_factors(factors: dict[str, float], epoch: int, start: int, end: int) -> dict[str, float]:
    """The factors c_j in force in epoch t (from 1): c_j inside start..end, 1 outside."""
    return dict(factors) if modulated(epoch, start, end) else {m: 1.0 for m in factors}


class MSLR(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.mslr
        mods = recipe.data.modalities
        self.base = {m: (self.cfg.rates[i] if self.cfg.rates else 1.0) for i, m in enumerate(mods)}
        self.factors = dict(self.base)
        self.accuracy: dict[str, list[float]] = {m: [] for m in mods}

    def configure_optimizer(self, model):
        return modality_groups(model)

    def on_fit_start(self, run, optimizer):
        self.optimizer = optimizer

    def apply_rates(self, epoch: int) -> None:
        lr = group_of(self.optimizer, "shared")["lr"]
        for m, c in rate_factors(self.factors, epoch, self.cfg.start, self.cfg.end).items():
            group_of(self.optimizer, m)["lr"] = lr * c

    def on_after_backward(self, out, labels, losses, step):
        self.apply_rates(step.epoch)

    @torch.no_grad()
    def validation_accuracy(self, run) -> dict[str, float]:
        feats, labels = split_features(run.model, run.data.val, self.recipe.data.eval_batch_size)
        parts = run.model.unimodal_logits(feats)
        return {m: float((p.argmax(1) == labels).float().mean()) for m, p in parts.items()}

    def on_validation_end(self, run, epoch):
        if self.cfg.strategy != "dynamic":
            return None
        for m, a in self.validation_accuracy(run).items():
            self.accuracy[m].append(a)
            self.factors[m] = self.base[m] * dynamic_ratio(self.accuracy[m], self.cfg.window)
        return {"learning-rate factors": {m: round(c, 4) for m, c in self.factors.items()}}

    def state_dict(self):
        return {"factors": dict(self.factors), "accuracy": {m: list(a) for m, a in self.accuracy.items()}}

    def load_state_dict(self, state):
        if state.get("factors"):
            self.factors = dict(state["factors"])
            self.accuracy = {m: list(a) for m, a in state["accuracy"].items()}
