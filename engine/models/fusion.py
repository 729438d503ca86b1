"""Fusions: the modalities' features (batch, d) each into one set of logits, and each modality's
part of those logits (`parts`, the `split_head` per-modality scores).

- concat: one linear classifier on the concatenated features.
- sum: each modality its own linear head, the logits added (as in OGM-GE's code).
- weight: each modality its own head, the logits mixed by learned modality weights (softmax of
  one learned score per modality).
- film: FiLM (Perez et al., AAAI 2018), the "Affine" baseline: the first modality gives a
  per-feature scale and shift of the second, gamma * z2 + beta, then a linear classifier.
- gated: gated fusion (as in OGM-GE's code, after Kiela et al. 2018): sigmoid(W1 z1) gates
  W2 z2, then a linear classifier.
- shared: one head shared by every modality, the logits added; in evaluation optionally
  weighted per sample by each modality's certainty (MLA's test-time fusion).
"""
from __future__ import annotations

import torch
from torch import nn


class Concat(nn.Module):
    def __init__(self, modalities: tuple[str, ...], d: int, classes: int):
        super().__init__()
        self.modalities = modalities
        self.head = nn.Linear(d * len(modalities), classes)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(torch.cat([feats[m] for m in self.modalities], dim=1))

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """W[:, block_j] z_j + b / m: the parts add up to the fused logits."""
        d = feats[self.modalities[0]].shape[1]
        W, b = self.head.weight, self.head.bias
        return {m: feats[m] @ W[:, j * d:(j + 1) * d].T + b / len(self.modalities)
                for j, m in enumerate(self.modalities)}


class Sum(nn.Module):
    def __init__(self, modalities: tuple[str, ...], d: int, classes: int):
        super().__init__()
        self.modalities = modalities
        self.heads = nn.ModuleDict({m: nn.Linear(d, classes) for m in modalities})

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.heads[m](feats[m]) for m in self.modalities)

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {m: self.heads[m](feats[m]) for m in self.modalities}


class Weight(Sum):
    """Sum of per-modality heads, mixed by softmax(w): w learned, starting equal."""

    def __init__(self, modalities: tuple[str, ...], d: int, classes: int):
        super().__init__(modalities, d, classes)
        self.scores = nn.Parameter(torch.zeros(len(modalities)))

    def weights(self) -> torch.Tensor:
        return torch.softmax(self.scores, 0)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(p for p in self.parts(feats).values())

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        w = self.weights()
        return {m: w[j] * self.heads[m](feats[m]) for j, m in enumerate(self.modalities)}


class _TwoModal(nn.Module):
    """A fusion of exactly two modalities; a modality's part is the fused classifier with the
    other modality's features set to zero."""

    def __init__(self, modalities: tuple[str, ...]):
        super().__init__()
        if len(modalities) != 2:
            raise ValueError(f"{type(self).__name__} fuses exactly two modalities")
        self.modalities = modalities

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        a, b = self.modalities
        return {a: self({a: feats[a], b: torch.zeros_like(feats[b])}),
                b: self({a: torch.zeros_like(feats[a]), b: feats[b]})}


class FiLM(_TwoModal):
    def __init__(self, modalities: tuple[str, ...], d: int, classes: int):
        super().__init__(modalities)
        self.film = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, classes)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        cond, target = (feats[m] for m in self.modalities)
        gamma, beta = self.film(cond).chunk(2, dim=1)
        return self.out(gamma * target + beta)


class Gated(_TwoModal):
    def __init__(self, modalities: tuple[str, ...], d: int, classes: int):
        super().__init__(modalities)
        self.fc_gate = nn.Linear(d, d)
        self.fc_value = nn.Linear(d, d)
        self.out = nn.Linear(d, classes)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        gate_in, value_in = (feats[m] for m in self.modalities)
        return self.out(torch.sigmoid(self.fc_gate(gate_in)) * self.fc_value(value_in))


class Shared(nn.Module):
    """One head for every modality (MLA). Training: logits added. Evaluation with
    `entropy_fusion`: per sample, modality j weighted by softmax_j(-H(p_j)), H the entropy of
    its prediction, so the more certain modality counts more."""

    def __init__(self, modalities: tuple[str, ...], d: int, classes: int, entropy_fusion: bool = True):
        super().__init__()
        self.modalities = modalities
        self.head = nn.Linear(d, classes)
        self.entropy_fusion = entropy_fusion

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = self.parts({m: feats[m] for m in self.modalities if m in feats})
        if self.training or not self.entropy_fusion or len(parts) < 2:
            return sum(parts.values())
        logits = torch.stack(list(parts.values()))                      # (m, batch, classes)
        logp = torch.log_softmax(logits, -1)
        entropy = -(logp.exp() * logp).sum(-1)                          # (m, batch)
        w = torch.softmax(-entropy, 0).unsqueeze(-1)
        return len(parts) * (w * logits).sum(0)

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {m: self.head(f) for m, f in feats.items()}


FUSIONS = {"concat": Concat, "sum": Sum, "weight": Weight, "film": FiLM, "gated": Gated, "shared": Shared}
