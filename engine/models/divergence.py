"""DOMFN's divergence-routed prediction: "DOMFN: A Divergence-Orientated Multi-Modal Fusion
Network for Resume Assessment" (Yang, Zhang, Gao, Gao, Zhu, ACM MM 2022).

Each modality predicts q_j = sigmoid(W_j z_j + b_j) (the authors' code; it calls them logits),
the fused MLP q_f = sigmoid(MLP([z_1; ...; z_M])). The functional penalty of modality j is
pen_j = max_k (q_jk - qbar_k)^2, qbar the modalities' mean prediction. A sample is fused where
every pen_j / tau < gamma; otherwise it is predicted by the most confident modality, argmax_j
max_k q_jk. The routed q is renormalised to sum to one and returned as its logarithm, so that
softmax(logits) is DOMFN's prediction (in a batched form). With two modalities and the
paper's gamma 0.8, tau 0.5 no sample is ever routed away (pen <= 1/4, so pen / tau <= 0.5).
"""
from __future__ import annotations

import torch
from torch import nn

TINY = 1e-30  # a sigmoid that underflowed to 0 still gives a finite log-probability


class Divergence(nn.Module):
    def __init__(self, modalities: tuple[str, ...], d: int, classes: int, hidden: int = 64,
                 gamma: float = 0.8, tau: float = 0.5):
        super().__init__()
        self.modalities = modalities
        self.gamma, self.tau = gamma, tau
        self.heads = nn.ModuleDict({m: nn.Linear(d, classes) for m in modalities})
        self.fused = nn.Sequential(nn.Linear(d * len(modalities), hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def probabilities(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """q (modalities, batch, C) and q_f (batch, C), each in (0, 1)."""
        q = torch.stack([torch.sigmoid(self.heads[m](feats[m])) for m in self.modalities])
        q_f = torch.sigmoid(self.fused(torch.cat([feats[m] for m in self.modalities], 1)))
        return q, q_f

    @staticmethod
    def penalties(q: torch.Tensor) -> torch.Tensor:
        """pen (modalities, batch): max over classes of (q_jk - mean_j q_jk)^2."""
        return ((q - q.mean(0, keepdim=True)) ** 2).amax(-1)

    def agreement(self, pen: torch.Tensor) -> torch.Tensor:
        """(batch,) bool: the samples whose every penalty / tau is below gamma (fused)."""
        return (pen / self.tau).amax(0) < self.gamma

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        q, q_f = self.probabilities(feats)
        agree = self.agreement(self.penalties(q))
        confident = q.amax(-1).argmax(0)                                   # (batch,)
        single = q[confident, torch.arange(q.shape[1], device=q.device)]   # (batch, C)
        routed = torch.where(agree[:, None], q_f, single).clamp_min(TINY)
        return torch.log(routed / routed.sum(-1, keepdim=True))

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each modality's q_j, renormalised, as log-probabilities."""
        return {m: torch.log(q.clamp_min(TINY) / q.clamp_min(TINY).sum(-1, keepdim=True))
                for m, q in zip(self.modalities, self.probabilities(feats)[0])}
