"""OGM-GE: "Balanced Multimodal Learning via On-the-fly Gradient Modulation" (Peng, Wei, Deng,
Wang, Hu, CVPR 2022).

After backward, each modality's share of the fused prediction is scored on the batch,
s_j = sum_i softmax(part_j(x_i))[y_i] (part_j: the modality's part of the fused classifier,
`split_head`). With the ratio rho_j = s_j / mean_{k != j} s_k (two modalities: s_a / s_v; more
than two is an extension), the dominant modality's encoder gradient is scaled by
k_j = 1 - tanh(alpha * rho_j) when rho_j > 1, else k_j = 1: the paper's eq. 10 and the released
code (paper and code agree). Generalisation enhancement (GE) then adds Gaussian noise whose
standard deviation is that of the unmodulated gradient, as the released code computes it:
g <- k g + N(0, std(g)^2). Modulation runs for epochs start..end (counted from 0, inclusive) as
in the released code. The released code scales and perturbs convolution weights only; here
every encoder parameter is scaled and the noise goes to every weight matrix or kernel (dim >= 2),
since the built-in datasets' encoders are also MLPs.
"""
from __future__ import annotations

import math

import torch

from engine.methods.base import Method


def modality_scores(parts: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, float]:
    """s_j: the summed softmax probability of the true class under modality j's part."""
    return {m: float(torch.softmax(p, 1).gather(1, labels[:, None]).sum()) for m, p in parts.items()}


def coefficients(scores: dict[str, float], alpha: float) -> dict[str, float]:
    """k_j = 1 - tanh(alpha * rho_j) if rho_j > 1 else 1, rho_j = s_j / mean of the other scores."""
    out = {}
    for m, s in scores.items():
        others = [v for k, v in scores.items() if k != m]
        rho = s / max(sum(others) / len(others), 1e-12)
        out[m] = 1.0 - math.tanh(alpha * rho) if rho > 1.0 else 1.0
    return out


class OGMGE(Method):

    def __init__(self, recipe):
        super().__init__(recipe)
        self.cfg = recipe.method.ogm_ge
        self.last_coefficients: dict[str, float] = {}
        self.epoch_sums: dict[str, float] = {}
        self.epoch_steps = 0

    def on_after_backward(self, out, labels, losses, step):
        if not self.cfg.start <= step.epoch - 1 <= self.cfg.end:
            return
        model = step.model
        with torch.no_grad():
            parts = model.unimodal_logits({m: f.detach() for m, f in out.features.items()})
            coef = coefficients(step.summed(modality_scores(parts, labels)), self.cfg.alpha)  # the global batch's
            for m, k in coef.items():
                for p in model.encoders[m].parameters():
                    if p.grad is None:
                        continue
                    std = p.grad.std() if self.cfg.noise and p.grad.dim() >= 2 else None
                    p.grad.mul_(k)
                    if std is not None:  # the unmodulated gradient's std, as the released code
                        p.grad.add_(step.randn_like(p.grad) * (std + 1e-8))
        self.last_coefficients = coef
        for m, k in coef.items():
            self.epoch_sums[m] = self.epoch_sums.get(m, 0.0) + k
        self.epoch_steps += 1

    def on_validation_end(self, run, epoch):
        if not self.epoch_steps:
            return None
        mean = {m: round(v / self.epoch_steps, 4) for m, v in self.epoch_sums.items()}
        self.epoch_sums, self.epoch_steps = {}, 0
        return {"mean gradient coefficient": mean}

    def state_dict(self):
        return {"epoch_sums": dict(self.epoch_sums), "epoch_steps": self.epoch_steps}

    def load_state_dict(self, state):
        self.epoch_sums = dict(state.get("epoch_sums", {}))
        self.epoch_steps = state.get("epoch_steps", 0)
