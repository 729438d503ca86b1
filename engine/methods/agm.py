"""AGM: "Boosting Multi-modal Model Performance with Adaptive Gradient Modulation" (Li, Li, Hu,
Lei, Li, Zhou, ICCV 2023), as the authors' code computes it.

Coalition values v(S): the fused logits with the inputs of the modalities outside S set to zero
(`method.agm.pad = "input"`; the padded passes run in evaluation mode, with gradient; "feature"
zeroes the encoder features instead, cheaper, a deviation). Mono-modal responses are Shapley
values plus an equal share of v(empty), m_j = sum_{S without j} |S|! (M - |S| - 1)! / M!
[v(S + j) - v(S)] + v(empty) / M, in which v(empty) cancels, so sum_j m_j = v(N). Scores s_j:
the batch mean of -log p(m_j)_y (p floored at 1e-8); running scores sbar_j: their mean over
every training step so far (0 at first), updated after the coefficients. With the means
s and sbar over modalities, ratio_j = exp(M / (M - 1) (s - s_j)), opt_j = exp(M / (M - 1) (sbar
- sbar_j)) and kappa_j = exp(alpha min(opt_j - ratio_j, c_max)). A modality doing better now
than its running balance gets kappa < 1. The loss is the cross-entropy of sum_j m_j, whose
backward multiplies the gradient reaching m_j by kappa_j. When any entry of the fusion's weight
gradient leaves [-c, c] all gradients are clipped to norm c (`limits`).

The limits follow the code per modality count: two modalities, c_max 10 and c = 1 (the CREMA-D
script, run/CREMAD_main.py; its AV-MNIST script clips the gradient alike, its AVE and MOSEI
scripts leave kappa unclipped); three, c_max 7 and c = 5 (run/URFunny_main.py, its only
three-modality script); more than three, an extension, as three.

Modulation runs for the epochs t with start <= t <= end, t counted from 1 as both the engine and
the code count them (its loop is `for epoch in range(1, EPOCHS + 1)` and it modulates when
`modulation_starts <= epoch <= modulation_ends`): with the defaults 0 and 20 (the code's
argparse defaults) epochs 1 to 20; start 0 and 1 are the same. Outside them kappa = 1 (the code
keeps the last kappa, a deviation). Evaluation predicts with v(N), the model itself. Under Adam
a slowly varying kappa is partly normalised away.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from engine.methods.base import Method
from engine.models.multimodal import Output


class GradScale(torch.autograd.Function):
    """Identity forward; the backward multiplies the incoming gradient by `scale`."""

    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def shapley_responses(values: dict[frozenset, torch.Tensor], modalities) -> dict[str, torch.Tensor]:
    """m_j from the coalition values v(S) of every non-empty S (v(empty) cancels)."""
    n = len(modalities)
    out = {}
    for j in modalities:
        others = [m for m in modalities if m != j]
        total = 0
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                s = frozenset(s)
                total = total + w * (values[s | {j}] - (values[s] if s else 0))
        out[j] = total
    return out


def modulated(epoch: int, start: int, end: int) -> bool:
    """Whether epoch t (from 1) is modulated: start <= t <= end, the code's comparison."""
    return start <= epoch <= end


def limits(n: int) -> tuple[float, float]:
    """(c_max, c) for n modalities: kappa's exponent is clipped at c_max; when an entry of the
    fusion's weight gradient leaves [-c, c], every gradient is clipped to norm c."""
    return (10.0, 1.0) if n == 2 else (7.0, 5.0)


def coefficients(scores: dict[str, float], running: dict[str, float], alpha: float) -> dict[str, float]:
    """kappa_j = exp(alpha min(opt_j - ratio_j, c_max))."""
    n = len(scores)
    c_max = limits(n)[0]
    s_mean, r_mean = sum(scores.values()) / n, sum(running.values()) / n
    out = {}
    for m in scores:
        ratio = math.exp(n / (n - 1) * (s_mean - scores[m]))
        opt = math.exp(n / (n - 1) * (r_mean - running[m]))
        out[m] = math.exp(alpha * min(opt - ratio, c_max))
    return out


@dataclass
class AGMOutput(Output):
    responses: dict[str, torch.Tensor] = field(default_factory=dict)


class AGM(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.agm
        mods = recipe.data.modalities
        self.running = {m: 0.0 for m in mods}
        self.steps = 0
        self.last_coefficients: dict[str, float] = {}
        self.epoch_sums = {m: 0.0 for m in mods}
        self.epoch_steps = 0

    def coalition_values(self, model, inputs, full: Output) -> dict[frozenset, torch.Tensor]:
        mods = model.modalities
        values = {frozenset(mods): full.logits}
        subsets = [frozenset(s) for k in range(1, len(mods)) for s in itertools.combinations(mods, k)]
        if self.cfg.pad == "feature":
            for s in subsets:
                values[s] = model.fusion({m: f if m in s else torch.zeros_like(f) for m, f in full.features.items()})
            return values
        model.eval()
        try:
            for s in subsets:
                values[s] = model({m: x if m in s else torch.zeros_like(x) for m, x in inputs.items()}).logits
        finally:
            model.train()
        return values

    def forward(self, net, inputs, step):
        def with_coalitions(model, inputs):
            full = model(inputs)
            responses = shapley_responses(self.coalition_values(model, inputs, full), model.modalities)
            return AGMOutput(full.logits, full.features, full.embeddings, responses)

        return net(inputs, through=with_coalitions)

    def kappa(self, scores: dict[str, float], epoch: int) -> dict[str, float]:
        """kappa of this step from its scores and the running scores so far (1 outside the window)."""
        active = modulated(epoch, self.cfg.start, self.cfg.end)
        return coefficients(scores, self.running, self.cfg.alpha) if active else {m: 1.0 for m in scores}

    def loss(self, out, labels, step):
        with torch.no_grad():
            scores = step.batch_means(
                {m: float(-torch.log(torch.softmax(r, 1).gather(1, labels[:, None]).clamp_min(1e-8)).mean())
                 for m, r in out.responses.items()}, len(labels))  # over the global batch under DDP
        kappa = self.kappa(scores, step.epoch)
        fused = sum(GradScale.apply(r, kappa[m]) for m, r in out.responses.items())
        total = F.cross_entropy(fused, labels)
        return {"total": total, "cls": F.cross_entropy(out.logits, labels),
                **{f"score_{m}": torch.tensor(s, dtype=torch.float64) for m, s in scores.items()}}

    def on_after_backward(self, out, labels, losses, step):
        scores = {m: float(losses[f"score_{m}"]) for m in self.running}
        kappa = self.kappa(scores, step.epoch)  # as `loss` used them, before the update
        self.steps += 1
        self.running = {m: v + (scores[m] - v) / self.steps for m, v in self.running.items()}
        self.last_coefficients = kappa
        for m, k in kappa.items():
            self.epoch_sums[m] += k
        self.epoch_steps += 1
        model = step.model
        clip = limits(len(model.modalities))[1]
        weights = [p.grad for p in model.fusion.parameters() if p.dim() >= 2 and p.grad is not None]
        if any(bool((g.abs() > clip).any()) for g in weights):
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], clip)

    def on_validation_end(self, run, epoch):
        if not self.epoch_steps:
            return None
        mean = {m: round(v / self.epoch_steps, 4) for m, v in self.epoch_sums.items()}
        self.epoch_sums, self.epoch_steps = {m: 0.0 for m in mean}, 0
        return {"mean coefficient": mean}

    def state_dict(self):
        return {"running": dict(self.running), "steps": self.steps, "epoch_sums": dict(self.epoch_sums),
                "epoch_steps": self.epoch_steps}

    def load_state_dict(self, state):
        if "running" in state:
            self.running = dict(state["running"])
            self.steps = int(state["steps"])
            self.epoch_sums = dict(state["epoch_sums"])
            self.epoch_steps = int(state["epoch_steps"])
