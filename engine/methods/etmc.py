"""ETMC: "Trusted Multi-View Classification with Dynamic Evidential Fusion" (Han, Zhang, Fu,
Zhou, TPAMI 45(2), 2023), the enhanced trusted multi-view classifier.

The model's fusion (engine/models/evidential.py) gives Dirichlet parameters alpha for each
modality, for the pseudo-view of the concatenated features and for their Dempster-Shafer
combination, and predicts alpha_f / S_f (as log-probabilities). The loss sums over those M + 2
opinions, per sample, averaged over the batch, the adjusted cross-entropy
psi(S) - psi(alpha_y) and lambda_t KL(Dir(alpha~) || Dir(1)), alpha~ = y + (1 - y) alpha the
parameters without the true class's evidence; lambda_t = min(1, (t - 1) / annealing), t the
epoch from 1 (0 in the first epoch, as the authors' code with its 0-based epoch; `annealing`
10, their default). The authors' training script uses the test split for its learning-rate
schedule, early stopping and model choice; here the engine's validation split picks the best
checkpoint and the optimiser and schedule are the recipe's. The reported "cls" is the
cross-entropy of the fused prediction; the loss itself has M + 2 terms, so its scale differs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from engine.methods.base import Method


def adjusted_ce(alpha: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(batch,): psi(S) - psi(alpha_y), the expected cross-entropy under Dir(alpha)."""
    return torch.digamma(alpha.sum(-1)) - torch.digamma(alpha.gather(1, labels[:, None])[:, 0])


def kl_to_uniform(alpha: torch.Tensor) -> torch.Tensor:
    """(batch,): KL(Dir(alpha) || Dir(1, ..., 1))."""
    s = alpha.sum(-1)
    c = alpha.shape[-1]
    return (torch.lgamma(s) - math.lgamma(c) - torch.lgamma(alpha).sum(-1)
            + ((alpha - 1) * (torch.digamma(alpha) - torch.digamma(s)[:, None])).sum(-1))


def annealing(t: int, epochs: int) -> float:
    """lambda_t = min(1, (t - 1) / epochs), t from 1."""
    return min(1.0, (t - 1) / epochs)


def evidential_loss(alpha: torch.Tensor, labels: torch.Tensor, lam: float) -> torch.Tensor:
    """(batch,): adjusted cross-entropy + lam KL of the parameters without the true class's evidence."""
    y = F.one_hot(labels, alpha.shape[-1]).to(alpha.dtype)
    return adjusted_ce(alpha, labels) + lam * kl_to_uniform(y + (1 - y) * alpha)


class ETMC(Method):

    def loss(self, out, labels, step):
        lam = annealing(step.epoch, self.recipe.method.etmc.annealing)
        opinions = step.model.fusion.opinions(out.features)
        terms = {f"ev_{k}": evidential_loss(a, labels, lam).mean() for k, a in opinions.items()}
        total = sum(terms.values())
        return {"total": total, "cls": F.cross_entropy(out.logits, labels), **terms}
