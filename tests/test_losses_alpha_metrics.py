"""Losses against independent computations; alpha schedules' first values; metrics."""
from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch

from engine.alpha.strategies import build_strategy
from engine.methods.losses import classification_loss, matching_loss, matching_loss_pair, total_loss
from engine.training.metrics import classification_metrics, modality_gap, performance_gap


def infonce_by_hand(a: np.ndarray, b: np.ndarray, tau: float) -> float:
    """The paper's L_MM written as its formula: -1/(2 n) sum_i [log p_row(i) + log p_col(i)]."""
    n = len(a)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    total = 0.0
    for i in range(n):
        s_ii = an[i] @ bn[i] / tau
        row = sum(math.exp(an[i] @ bn[k] / tau) for k in range(n))
        col = sum(math.exp(an[k] @ bn[i] / tau) for k in range(n))
        total += (s_ii - math.log(row)) + (s_ii - math.log(col))
    return -total / (2 * n)


def test_matching_loss_equals_the_papers_formula() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    got = matching_loss_pair(torch.tensor(a), torch.tensor(b), 0.07).item()
    assert got == pytest.approx(infonce_by_hand(a, b, 0.07), rel=1e-10)


def test_matching_loss_over_three_modalities_is_the_mean_or_sum_of_pairs() -> None:
    rng = np.random.default_rng(1)
    x = {m: rng.normal(size=(6, 4)) for m in "abc"}
    pairs = [infonce_by_hand(x[p], x[q], 0.5) for p, q in (("a", "b"), ("a", "c"), ("b", "c"))]
    t = {m: torch.tensor(v) for m, v in x.items()}
    assert matching_loss(t, 0.5, "mean").item() == pytest.approx(np.mean(pairs), rel=1e-10)
    assert matching_loss(t, 0.5, "sum").item() == pytest.approx(np.sum(pairs), rel=1e-10)


def test_classification_and_total_loss() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 2])
    by_hand = -(math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1))) +
                math.log(1 / (2 + math.e))) / 2
    l_cls = classification_loss(logits, labels)
    assert l_cls.item() == pytest.approx(by_hand, rel=1e-6)
    assert total_loss(l_cls, torch.tensor(3.0), 0.25).item() == pytest.approx(0.75 * by_hand + 0.75, rel=1e-6)


def cfg(strategy, value=0.5, coefficients=(1.5e-4, -6.5e-3, 3.2e-2, 1.0)):
    return types.SimpleNamespace(strategy=strategy, value=value, coefficients=coefficients)


def test_heuristic_first_values() -> None:
    s = build_strategy(cfg("heuristic"), 10)
    assert [round(s.value(t), 3) for t in (1, 2, 3)] == [0.632, 0.393, 0.283]


def test_constant_and_stepwise() -> None:
    assert build_strategy(cfg("constant", 0.5), 10).value(7) == 0.5
    h = build_strategy(cfg("stepwise", 0.05), 10)
    assert [h.value(t) for t in (1, 5, 6, 10)] == [0.05, 0.05, 0.95, 0.95]
    h1 = build_strategy(cfg("stepwise", 1.0), 4)
    assert [h1.value(t) for t in (1, 2, 3, 4)] == [1.0, 1.0, 0.0, 0.0]


def test_polynomial_is_the_papers_cubic_clipped() -> None:
    s = build_strategy(cfg("polynomial"), 30)
    assert s.value(1) == 1.0  # 1.5e-4 - 6.5e-3 + 3.2e-2 + 1 > 1: clipped
    t = 20
    assert s.value(t) == pytest.approx(1.5e-4 * t**3 - 6.5e-3 * t**2 + 3.2e-2 * t + 1)
    low = build_strategy(cfg("polynomial", coefficients=(0.0, 0.0, -1.0, 0.5)), 5)
    assert low.value(3) == 0.0


def test_classification_metrics_match_by_hand_values() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    labels = np.array([0, 1, 2, 1])
    m = classification_metrics(probs, labels, 3)
    assert m["acc"] == pytest.approx(75.0)
    # class 0: AP of [0.7,0.2,0.1,0.5] vs [1,0,0,0] = 1; class 1: scores .2,.5,.3,.4 vs [0,1,0,1] = 1;
    # class 2: scores .1,.3,.6,.1 vs [0,0,1,0] = 1 -> MAP 100
    assert m["map"] == pytest.approx(100.0)
    # F1: class0 p=1/2 r=1 -> 2/3; class1 p=1 r=1/2 -> 2/3; class2 1 -> mean 7/9
    assert m["f1"] == pytest.approx(100 * 7 / 9)


@pytest.mark.parametrize("seed", range(6))
def test_classification_metrics_equal_scikit_learns(seed: int) -> None:
    """MAP, macro-F1 and the confusion counts are computed with numpy (no scikit-learn import in a
    run); they equal scikit-learn's average_precision_score, f1_score (macro, zero_division=0) and
    confusion_matrix on scores with ties, a class never present and a class never predicted."""
    from sklearn.metrics import average_precision_score, confusion_matrix, f1_score

    from engine.training.metrics import confusion_counts

    rng = np.random.default_rng(seed)
    n, c = 60, 6
    probs = rng.dirichlet(np.ones(c), size=n)
    probs[: n // 2] = np.round(probs[: n // 2], 1)          # tied scores
    labels = rng.integers(0, c - 1, size=n)                  # class c-1 never present
    probs[:, 0] *= 0.01                                      # class 0 rarely if ever predicted
    m = classification_metrics(probs, labels, c)
    aps = [average_precision_score(labels == k, probs[:, k]) for k in range(c) if (labels == k).any()]
    pred = probs.argmax(1)
    assert m["map"] == pytest.approx(100 * np.mean(aps), abs=1e-10)
    assert m["f1"] == pytest.approx(100 * f1_score(labels, pred, average="macro", labels=list(range(c)),
                                                   zero_division=0), abs=1e-10)
    assert confusion_counts(labels, pred, c).tolist() == confusion_matrix(labels, pred, labels=list(range(c))).tolist()


def test_gap_and_modality_gap() -> None:
    assert performance_gap({"a": {"acc": 80.0}, "b": {"acc": 55.0}, "c": {"acc": 60.0}}) == 25.0
    f = {"a": torch.tensor([[1.0, 0.0], [2.0, 0.0]]), "b": torch.tensor([[0.0, 3.0], [0.0, 1.0]])}
    assert modality_gap(f) == pytest.approx(math.sqrt(2))
