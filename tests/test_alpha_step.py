"""The learned alpha's step on synthetic hypergradient sequences (no training): the step sized by
the evidence (snr), the horizon over updates, the logit-space update and their checkpoint state."""
from __future__ import annotations

import json
import math
import random
import statistics
import types

import pytest

from engine.alpha.strategies import EDGE, build_strategy


def learned(**kw):
    base = dict(strategy="learned", initial=0.5, lr=0.1, lr_decay=1.0, lr_decay_every=0, clip=(0.0, 1.0),
                update_every=0, hypergradient="cg", value=0.5, coefficients=(), optimizer="snr",
                betas=(0.5, 0.9), evidence=(2.0, 4.0), horizon=0.0, space="linear")
    return build_strategy(types.SimpleNamespace(**{**base, **kw}), 20)


def draws(mean: float, sd: float, updates: int = 20, k: int = 4, seed: int = 0) -> list[tuple[float, float]]:
    """(mean, standard error) of k normal estimates per update, as engine/alpha/bilevel.py reports them."""
    rng = random.Random(seed)
    out = []
    for _ in range(updates):
        xs = [rng.gauss(mean, sd) for _ in range(k)]
        out.append((statistics.mean(xs), statistics.stdev(xs) / math.sqrt(k)))
    return out


def trajectory(s, seq) -> list[float]:
    return [s.apply(g, 1, se) for g, se in seq]


def excursion(alphas: list[float], start: float = 0.5) -> float:
    return max(abs(a - start) for a in alphas)


def test_zero_mean_noise_barely_moves_the_snr_step_where_adam_walks() -> None:
    """Pure noise, 4 estimates an update, 20 updates, lr 0.1, 8 sequences: Adam's fixed step
    walks alpha far (it sees only the mean); the evidence-sized step, which moves only on an
    established sign, travels under 15 % of Adam's distance (under 10 % with the horizon, whose
    pooled standard error rests on more draws) and never strays 0.25 from where it started."""
    dist = lambda a: sum(abs(x - y) for x, y in zip([0.5, *a], a))  # noqa: E731
    total = {"snr": 0.0, "horizon": 0.0, "adam": 0.0}
    for seed in range(8):
        seq = draws(0.0, 1e-3, seed=seed)
        for name, kw in [("snr", {}), ("horizon", dict(horizon=0.5)), ("adam", dict(optimizer="adam"))]:
            alphas = trajectory(learned(**kw), seq)
            total[name] += dist(alphas)
            assert name == "adam" or excursion(alphas) < 0.25
    assert total["adam"] > 6.0
    assert total["snr"] < 0.15 * total["adam"] and total["horizon"] < 0.1 * total["adam"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_consistent_sign_moves_alpha_against_it_by_up_to_lr(seed) -> None:
    """Hypergradients of mean 1 sd and 4 estimates (t about 2 an update) move alpha down from
    0.5 below 0.3 in 20 updates, never up, never by more than lr; a strong signal (t >= 4)
    moves it by exactly lr."""
    alphas = trajectory(learned(), draws(1.0, 1.0, seed=seed))
    steps = [a - b for a, b in zip([0.5, *alphas], alphas)]
    assert all(0 <= d <= 0.1 + 1e-12 for d in steps) and alphas[-1] < 0.3
    strong = learned()
    assert [strong.apply(-4.0, 1, 1.0), strong.apply(-10.0, 1, 1.0)] == pytest.approx([0.6, 0.7])


def test_the_step_grows_with_the_evidence_between_the_band() -> None:
    """t below t_low: no move; between t_low and t_high: lr times (|t| - t_low) / (t_high - t_low)."""
    for t, move in [(1.9, 0.0), (2.0, 0.0), (2.5, 0.025), (3.0, 0.05), (3.5, 0.075), (4.0, 0.1), (7.0, 0.1)]:
        s = learned()
        assert 0.5 - s.apply(t * 0.01, 1, 0.01) == pytest.approx(move, abs=1e-12)
        assert s.step.evidence == pytest.approx(t)
    # no standard error (one estimate): no evidence, no move
    s = learned()
    assert s.apply(5.0, 1, None) == 0.5 and s.step.evidence is None


def test_the_horizon_pools_hypergradients_and_their_standard_errors() -> None:
    """beta = 0.5: the pooled t is sum beta^age g / sqrt(sum beta^(2 age) se^2): two updates of
    t = 2 each give 3 / sqrt(1.25) = 2.68, more evidence than either alone."""
    s = learned(horizon=0.5)
    s.apply(2.0, 1, 1.0)
    assert s.step.evidence == pytest.approx(2.0)
    s.apply(2.0, 1, 1.0)
    assert s.step.evidence == pytest.approx(3.0 / math.sqrt(1.25))
    # a sign flip after a run of the other sign is outweighed at first: the memory of the horizon
    s.apply(-2.0, 1, 1.0)
    assert s.step.evidence == pytest.approx((2.0 * 0.25 + 2.0 * 0.5 - 2.0) / math.sqrt(0.0625 + 0.25 + 1))


def test_the_logit_update_leaves_the_bounds_smoothly_and_respects_the_clip() -> None:
    """In logit space a full step lr changes z = logit(alpha) by lr: alpha falls towards 0
    geometrically (each step about lr * alpha (1 - alpha)), never reaches it, and the same
    evidence the other way brings it back at the same pace; from initial 0 it leaves at once.
    In linear space the same steps pin alpha to 0."""
    down = [(1.0, 0.1)] * 30
    up = [(-1.0, 0.1)] * 30
    logit = learned(space="logit", lr=0.5)
    fall = trajectory(logit, down[:12])
    assert all(0 < b < a for a, b in zip([0.5, *fall], fall))
    assert fall[0] == pytest.approx(1 / (1 + math.exp(0.5))) and fall[-1] == pytest.approx(1 / (1 + math.exp(6)))
    floor = trajectory(logit, down[12:])
    assert floor[-1] == pytest.approx(EDGE, rel=1e-9)   # z stops at logit(EDGE): alpha never 0
    rise = trajectory(logit, up)
    assert all(b > a for a, b in zip([floor[-1], *rise[:13]], rise[:13])) and rise[-1] == pytest.approx(1 - EDGE)
    linear = learned(space="linear", lr=0.5)
    assert trajectory(linear, down)[1:] == [0.0] * 29
    start0 = learned(space="logit", lr=0.5, initial=0.0)
    first = trajectory(start0, up[:3])
    assert 0 < first[0] < first[1] < first[2] and first[1] / first[0] == pytest.approx(math.e ** 0.5, rel=1e-2)
    clipped = learned(space="logit", lr=0.5, clip=(0.05, 0.95), initial=0.5)
    assert min(trajectory(clipped, down)) == pytest.approx(0.05)
    assert max(trajectory(clipped, up)) == pytest.approx(0.95)


@pytest.mark.parametrize("kw", [dict(horizon=0.5, space="logit", lr=0.5), dict(optimizer="adam", horizon=0.5, lr=0.05)])
def test_the_step_state_survives_a_checkpoint_and_resume_is_exact(kw) -> None:
    """After 6 updates, a strategy restored from the JSON of state_dict() continues with the
    same alphas as the one that ran on (the horizon's sums, Adam's moments and z included)."""
    seq = draws(0.5, 1.0, updates=12, seed=7)
    a = learned(**kw)
    trajectory(a, seq[:6])
    state = json.loads(json.dumps(a.state_dict()))
    b = learned(**kw)
    b.load_state_dict(state)
    resumed = trajectory(b, seq[6:])
    assert resumed == trajectory(a, seq[6:])
    forgetful = learned(**kw)  # alpha alone, without the step's memory, continues differently
    forgetful.load_state_dict({"alpha": state["alpha"], "updates": 6})
    assert trajectory(forgetful, seq[6:]) != resumed
