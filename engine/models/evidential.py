"""ETMC's evidential fusion: "Trusted Multi-View Classification with Dynamic Evidential
Fusion" (Han, Zhang, Fu, Zhou, TPAMI 2023).

Each modality's head gives non-negative evidence e_j = softplus(h_j(z_j)), a Dirichlet with
alpha_j = e_j + 1; the "enhanced" pseudo-view does the same on the concatenated features. A
Dirichlet's opinion is b_k = e_k / S and u = C / S (S = sum_k alpha_k), so sum_k b_k + u = 1.
Two opinions combine by the reduced Dempster-Shafer rule (`combine`); the fused opinion folds
the modalities left to right, then the pseudo-view last, as the authors' two-view code does
(their code folds views left to right; the M > 2 order with the pseudo-view last is our
choice). The prediction is the expected probability alpha_f / S_f: `forward` returns its
logarithm, so softmax(logits) is that probability and ACC / MAP / F1 compare with the others.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CONFLICT_FLOOR = 1e-8  # 1 - K under total conflict


def opinion(alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(belief (batch, C), uncertainty (batch, 1)) of Dirichlet parameters alpha."""
    s = alpha.sum(-1, keepdim=True)
    return (alpha - 1) / s, alpha.shape[-1] / s


def combine(alpha1: torch.Tensor, alpha2: torch.Tensor) -> torch.Tensor:
    """The reduced Dempster-Shafer combination of two opinions, as Dirichlet parameters:
    K = sum_{i != j} b1_i b2_j, b = (b1 b2 + b1 u2 + b2 u1) / (1 - K), u = u1 u2 / (1 - K),
    then S = C / u, e = b S, alpha = e + 1."""
    b1, u1 = opinion(alpha1)
    b2, u2 = opinion(alpha2)
    conflict = b1.sum(-1, keepdim=True) * b2.sum(-1, keepdim=True) - (b1 * b2).sum(-1, keepdim=True)
    scale = (1 - conflict).clamp_min(CONFLICT_FLOOR)
    b = (b1 * b2 + b1 * u2 + b2 * u1) / scale
    u = u1 * u2 / scale
    return b * (alpha1.shape[-1] / u) + 1


class Evidential(nn.Module):
    def __init__(self, modalities: tuple[str, ...], d: int, classes: int):
        super().__init__()
        self.modalities = modalities
        self.heads = nn.ModuleDict({m: nn.Linear(d, classes) for m in modalities})
        self.pseudo = nn.Linear(d * len(modalities), classes)

    def opinions(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Dirichlet parameters of each modality, of the pseudo-view ("pseudo") and fused ("fused")."""
        out = {m: F.softplus(self.heads[m](feats[m])) + 1 for m in self.modalities}
        out["pseudo"] = F.softplus(self.pseudo(torch.cat([feats[m] for m in self.modalities], 1))) + 1
        fused = out[self.modalities[0]]
        for m in self.modalities[1:]:
            fused = combine(fused, out[m])
        out["fused"] = combine(fused, out["pseudo"])
        return out

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        alpha = self.opinions(feats)["fused"]
        return torch.log(alpha / alpha.sum(-1, keepdim=True))

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each modality's own opinion, as log expected probabilities."""
        out = {}
        for m in self.modalities:
            alpha = F.softplus(self.heads[m](feats[m])) + 1
            out[m] = torch.log(alpha / alpha.sum(-1, keepdim=True))
        return out
