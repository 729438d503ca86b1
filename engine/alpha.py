"""How alpha moves across epochs (the paper's Algorithm 1; SPEC section 2).

Epochs t count from 1. Each strategy gives alpha for epoch t before its inner loop, and may
update itself after it (`end_epoch`); `state_dict` / `load_state_dict` carry its state through
checkpoints.
"""
from __future__ import annotations

import math


class AlphaStrategy:
    name = "base"

    def __init__(self, cfg, epochs: int):
        self.cfg = cfg
        self.epochs = epochs

    def value(self, t: int) -> float:
        raise NotImplementedError

    def end_epoch(self, t: int, **context) -> dict | None:
        """Called after epoch t's inner loop; returns the alpha_updated fields when it moved."""
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Constant(AlphaStrategy):
    """alpha_t = p."""
    name = "constant"

    def value(self, t: int) -> float:
        return float(self.cfg.value)


class Stepwise(AlphaStrategy):
    """h(p): alpha_t = p while t <= T/2, else 1 - p."""
    name = "stepwise"

    def value(self, t: int) -> float:
        p = float(self.cfg.value)
        return p if t <= self.epochs / 2 else 1.0 - p


class Heuristic(AlphaStrategy):
    """Ours-H: alpha_t = omega(t) = 1 - exp(-1/t)."""
    name = "heuristic"

    def value(self, t: int) -> float:
        return 1.0 - math.exp(-1.0 / t)


class Polynomial(AlphaStrategy):
    """alpha_t = a t^3 + b t^2 + c t + d, clipped to [0, 1]."""
    name = "polynomial"

    def value(self, t: int) -> float:
        a, b, c, d = self.cfg.coefficients
        return min(1.0, max(0.0, a * t ** 3 + b * t ** 2 + c * t + d))


STRATEGIES: dict[str, type[AlphaStrategy]] = {
    s.name: s for s in (Constant, Stepwise, Heuristic, Polynomial)
}


def build_strategy(cfg, epochs: int) -> AlphaStrategy:
    return STRATEGIES[cfg.strategy](cfg, epochs)
