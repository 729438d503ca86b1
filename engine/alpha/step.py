"""The step of the learned alpha (engine/alpha/strategies.py `Learned`): how far alpha moves given
the hypergradient dF/dalpha of one update, the mean of `alpha.estimates` draws, and its standard
error (the draws' sample standard deviation over sqrt(estimates); unknown with one draw).
"""
from __future__ import annotations

import math


class AlphaStep:
    """How the learned alpha moves given dF/dalpha = g (the step; its sign is -sign(g)).

    The horizon first (`alpha.horizon` = beta; 0 = none): the hypergradients of the updates so
    far are pooled with weights beta^age, g_h = sum_i beta^(n-i) g_i / sum_i beta^(n-i), and the
    standard error of that weighted mean, the updates' draws being independent, is
    sqrt(sum_i beta^(2(n-i)) se_i^2) / sum_i beta^(n-i). Its t statistic t = g_h / se_h is the
    evidence that the sign of the pooled hypergradient is not noise. Then the step on g_h:

    - `snr`: lr * sign(t) * clip((|t| - t_low) / (t_high - t_low), 0, 1), (t_low, t_high) =
      `alpha.evidence`: no move while the pooled mean is within t_low standard errors of zero
      (its sign is not established), a full step lr from t_high on, and in between a step that
      grows with the evidence. Scale-free like adam and sign; needs a standard error, so with
      one estimate per update it moves only through the horizon's pooled spread, never on a
      single draw.
    - `adam`: lr * m_hat / (sqrt(v_hat) + eps), Adam's moments of g with bias correction
      (betas from the recipe): scale-free, so `lr` is in units of alpha per update whatever the
      size of g, which differs by orders of magnitude between solvers and datasets.
    - `sign`: lr * sign(g): scale-free, no memory.
    - `sgd`: lr * g, the raw step of the paper's equation and of the released code (its lr is in
      units of alpha per unit of hypergradient).

    `evidence` after a call is the t statistic the step saw (None where no standard error is
    known). All memory (Adam's moments, the horizon's sums) is in `state_dict`."""

    def __init__(self, kind: str, betas=(0.5, 0.9), eps: float = 1e-30, horizon: float = 0.0,
                 band=(1.0, 3.0)):
        self.kind, self.betas, self.eps = kind, tuple(betas), eps
        self.horizon, self.band = float(horizon), tuple(band)
        self.m = self.v = 0.0
        self.t = 0
        self.sum_g = self.weight = self.sum_var = 0.0  # the horizon's weighted sums
        self.evidence: float | None = None

    def pooled(self, g: float, se: float | None) -> tuple[float, float | None]:
        """(g_h, se_h): this update's (g, se) pooled with the earlier ones by the horizon."""
        var = se * se if se is not None and math.isfinite(se) else math.nan
        if not self.horizon:
            return g, se if var == var else None
        b = self.horizon
        self.sum_g = b * self.sum_g + g
        self.weight = b * self.weight + 1.0
        self.sum_var = b * b * self.sum_var + var if var == var else math.nan
        se_h = math.sqrt(self.sum_var) / self.weight if self.sum_var == self.sum_var else None
        return self.sum_g / self.weight, se_h

    def __call__(self, g: float, lr: float, se: float | None = None) -> float:
        g, se = self.pooled(g, se)
        self.evidence = None if se is None else (g / se if se > 0 else math.copysign(math.inf, g) if g else 0.0)
        if self.kind == "sgd":
            return lr * g
        if self.kind == "sign":
            return lr * (1.0 if g > 0 else -1.0 if g < 0 else 0.0)
        if self.kind == "snr":
            if self.evidence is None:
                return 0.0
            lo, hi = self.band
            strength = min(1.0, max(0.0, (abs(self.evidence) - lo) / (hi - lo))) if hi > lo else \
                float(abs(self.evidence) >= lo)
            return math.copysign(lr * strength, self.evidence) if strength else 0.0
        b1, b2 = self.betas
        self.t += 1
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        m_hat = self.m / (1 - b1 ** self.t)
        v_hat = self.v / (1 - b2 ** self.t)
        return lr * m_hat / (math.sqrt(v_hat) + self.eps)

    def state_dict(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t, "sum_g": self.sum_g, "weight": self.weight,
                "sum_var": None if self.sum_var != self.sum_var else self.sum_var}

    def load_state_dict(self, state: dict) -> None:
        self.m, self.v, self.t = float(state["m"]), float(state["v"]), int(state["t"])
        if "weight" in state:  # checkpoints written before the horizon have none
            self.sum_g, self.weight = float(state["sum_g"]), float(state["weight"])
            self.sum_var = math.nan if state["sum_var"] is None else float(state["sum_var"])


def logit(p: float, eps: float) -> float:
    """log(p / (1 - p)) of p kept within [eps, 1 - eps]."""
    p = min(1.0 - eps, max(eps, p))
    return math.log(p / (1.0 - p))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
