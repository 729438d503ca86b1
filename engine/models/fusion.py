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
- shared: one head shared by every modality, the logits averaged; in evaluation optionally
  weighted per sample by each modality's certainty (MLA's test-time fusion).
- mean: each modality its own linear head, the logits averaged (MMTM's and Greedy's branches).
- lstm: the modalities' features as a sequence (in data.modalities order) through a multi-layer
  LSTM, its last hidden state through a linear classifier (ML-LSTM, as proposed in
  our definition: the paper's architecture could not be checked).
- boost: one head shared by the modalities' learners, F = beta sum_j H(z_j) over the learners
  in the ensemble (ReconBoost), beta learned.
- evidential (ETMC, engine/models/evidential.py) and divergence (DOMFN,
  engine/models/divergence.py) predict probabilities that are not a softmax of one linear
  layer: their logits are log-probabilities, so softmax(logits) is the method's prediction.

Fusions that are not sums of per-modality parts (film, gated, lstm) give as a modality's part
the fused classifier with the other modalities' features set to zero.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.models.divergence import Divergence
from engine.models.evidential import Evidential


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


def zeroed_parts(fusion: nn.Module, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each modality's part: the fusion with every other modality's features set to zero."""
    return {m: fusion({k: f if k == m else torch.zeros_like(f) for k, f in feats.items()}) for m in feats}


class _TwoModal(nn.Module):
    """A fusion of exactly two modalities; a modality's part is the fused classifier with the
    other modality's features set to zero."""

    def __init__(self, modalities: tuple[str, ...]):
        super().__init__()
        if len(modalities) != 2:
            raise ValueError(f"{type(self).__name__} fuses exactly two modalities")
        self.modalities = modalities

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return zeroed_parts(self, {m: feats[m] for m in self.modalities})


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
    """One head for every modality (MLA). Logits averaged (the released code's equal weights);
    in evaluation with `entropy_fusion`, per sample, modality j weighted by softmax_j(-H(p_j)),
    H the entropy of its prediction, so the more certain modality counts more: the paper's
    weighted sum, sum_j w_j logits_j (the weights sum to one)."""

    def __init__(self, modalities: tuple[str, ...], d: int, classes: int, entropy_fusion: bool = True):
        super().__init__()
        self.modalities = modalities
        self.head = nn.Linear(d, classes)
        self.entropy_fusion = entropy_fusion

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = self.parts({m: feats[m] for m in self.modalities if m in feats})
        if self.training or not self.entropy_fusion or len(parts) < 2:
            return sum(parts.values()) / len(parts)
        logits = torch.stack(list(parts.values()))                      # (m, batch, classes)
        logp = torch.log_softmax(logits, -1)
        entropy = -(logp.exp() * logp).sum(-1)                          # (m, batch)
        w = torch.softmax(-entropy, 0).unsqueeze(-1)
        return (w * logits).sum(0)

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {m: self.head(f) for m, f in feats.items()}


class Mean(Sum):
    """Each modality its own head, the logits averaged."""

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return super().forward(feats) / len(self.modalities)


class LSTMFusion(nn.Module):
    """(z_1, ..., z_M) as a sequence through an L-layer LSTM; logits W_o h_M + b_o."""

    def __init__(self, modalities: tuple[str, ...], d: int, classes: int, layers: int = 2, hidden: int = 0):
        super().__init__()
        self.modalities = modalities
        self.lstm = nn.LSTM(d, hidden or d, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden or d, classes)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        states, _ = self.lstm(torch.stack([feats[m] for m in self.modalities], 1))
        return self.out(states[:, -1])

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return zeroed_parts(self, {m: feats[m] for m in self.modalities})


class Boost(nn.Module):
    """ReconBoost's ensemble: learner j is H(z_j), H shared; F = beta sum_j H(z_j) over the
    learners in the ensemble (`members`, a buffer the method sets; all at first)."""

    def __init__(self, modalities: tuple[str, ...], d: int, classes: int, hidden: int = 256,
                 boost_rate: float = 1.0):
        super().__init__()
        self.modalities = modalities
        self.head = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, classes))
        self.beta = nn.Parameter(torch.tensor(float(boost_rate)))
        self.register_buffer("members", torch.ones(len(modalities)))

    def learners(self, exclude: str | None = None) -> int:
        """How many learners the ensemble holds (without modality `exclude`'s)."""
        return sum(1 for j, m in enumerate(self.modalities) if m != exclude and self.members[j] > 0)

    def forward(self, feats: dict[str, torch.Tensor], exclude: str | None = None) -> torch.Tensor:
        """F, or with `exclude` F_-j: the ensemble without modality j's learner."""
        out = 0
        for j, m in enumerate(self.modalities):
            if m != exclude and self.members[j] > 0:
                out = out + self.head(feats[m])
        if isinstance(out, int):  # an empty ensemble predicts nothing: zero logits
            f = next(iter(feats.values()))
            return f.new_zeros(len(f), self.head[-1].out_features)
        return self.beta * out

    def parts(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {m: self.beta * self.head(feats[m]) for m in self.modalities}


FUSIONS = {"concat": Concat, "sum": Sum, "weight": Weight, "film": FiLM, "gated": Gated, "shared": Shared,
           "mean": Mean, "lstm": LSTMFusion, "boost": Boost, "evidential": Evidential, "divergence": Divergence}
