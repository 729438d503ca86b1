"""L_CLS, L_MM (symmetric InfoNCE) and L_Total of the paper's section 3."""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_CLS: mean cross-entropy of the softmax of the logits."""
    return F.cross_entropy(logits, labels)


def matching_loss_pair(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """L_MM for one pair of modalities: cosine similarities / tau, cross-entropy over the rows
    and over the columns with targets on the diagonal, the two averaged (CLIP's loss)."""
    sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    target = torch.arange(sim.shape[0], device=sim.device)
    return 0.5 * (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target))


def matching_loss(embeddings: dict[str, torch.Tensor], temperature: float,
                  reduction: str = "mean") -> torch.Tensor:
    """L_MM over every unordered pair of modalities, averaged (or summed)."""
    pairs = [matching_loss_pair(embeddings[j], embeddings[l], temperature)
             for j, l in itertools.combinations(embeddings, 2)]
    total = torch.stack(pairs).sum()
    return total / len(pairs) if reduction == "mean" else total


def total_loss(l_cls: torch.Tensor, l_mm: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """L_Total = (1 - alpha) L_CLS + alpha L_MM: alpha weights the matching loss."""
    return (1 - alpha) * l_cls + alpha * l_mm
