"""Evaluation metrics (the paper's section 4.1; docs/method.md): ACC, MAP, macro-F1, the accuracy gap (the
paper's performance gap) and the feature gap (docs/glossary.md)."""
from __future__ import annotations

import itertools

import numpy as np
import torch


def classification_metrics(probs: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, float]:
    """acc: top-1 accuracy; map: mean over classes present in `labels` of the one-vs-rest
    average precision of the softmax scores; f1: macro-F1 over all classes. In percent."""
    from sklearn.metrics import average_precision_score, f1_score  # 2 s of import: at the first evaluation

    pred = probs.argmax(1)
    aps = [average_precision_score(labels == c, probs[:, c]) for c in range(num_classes)
           if (labels == c).any()]
    return {
        "acc": 100.0 * float((pred == labels).mean()),
        "map": 100.0 * float(np.mean(aps)),
        "f1": 100.0 * float(f1_score(labels, pred, average="macro", labels=list(range(num_classes)),
                                     zero_division=0)),
    }


def performance_gap(per_modality: dict[str, dict[str, float]], metric: str = "acc") -> float:
    """|m1 - m2| for two modalities; max - min for more."""
    values = [v[metric] for v in per_modality.values()]
    return float(max(values) - min(values)) if values else 0.0


def modality_gap(features: dict[str, torch.Tensor]) -> float:
    """The feature gap: the distance between the centroids of the L2-normalised features of two
    modalities (Liang et al., 2022); the mean over pairs for more than two."""
    cents = {m: torch.nn.functional.normalize(f.float(), dim=-1).mean(0) for m, f in features.items()}
    dists = [float((cents[a] - cents[b]).norm()) for a, b in itertools.combinations(cents, 2)]
    return float(np.mean(dists)) if dists else 0.0
