"""Evaluation metrics (the paper's section 4.1; docs/method.md): ACC, MAP, macro-F1, the accuracy gap (the
paper's performance gap) and the feature gap (docs/glossary.md)."""
from __future__ import annotations

import itertools

import numpy as np
import torch


def classification_metrics(probs: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, float]:
    """acc: top-1 accuracy; map: mean over classes present in `labels` of the one-vs-rest
    average precision of the softmax scores; f1: macro-F1 over all classes. In percent.
    scikit-learn's definitions (average_precision_score, f1_score with zero_division=0),
    computed here with numpy: importing scikit-learn costs a run 1.5 s before its first
    evaluation, and tests/test_losses_alpha_metrics.py holds these equal to it."""
    pred = probs.argmax(1)
    aps = [average_precision(labels == c, probs[:, c]) for c in range(num_classes) if (labels == c).any()]
    return {
        "acc": 100.0 * float((pred == labels).mean()),
        "map": 100.0 * float(np.mean(aps)),
        "f1": 100.0 * macro_f1(labels, pred, num_classes),
    }


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """AP = sum_k (R_k - R_(k-1)) P_k over the distinct scores from the highest down (tied
    scores are one threshold): precision and recall of predicting positive at or above each."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    s, y = scores[order], positive[order].astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]   # the last index of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def macro_f1(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    """The mean over the classes 0 .. num_classes-1 of 2 TP / (2 TP + FP + FN), 0 for a class
    neither present nor predicted."""
    cm = confusion_counts(labels, predicted, num_classes)
    tp = np.diag(cm).astype(np.float64)
    denominator = cm.sum(0) + cm.sum(1)   # 2 TP + FP + FN
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean())


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Row i, column j: the samples of class i predicted as class j (int64, num_classes square)."""
    flat = labels.astype(np.int64) * num_classes + predicted.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


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
