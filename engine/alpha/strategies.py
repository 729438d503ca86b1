"""How alpha moves across epochs (the paper's Algorithm 1).

Epochs t count from 1. Each strategy gives alpha for epoch t before its inner loop, and may
update itself after it (`on_validation_end`) or after each step (`on_train_batch_end`), with the
run's context (engine/contract/context.py); `state_dict` / `load_state_dict` carry its state through
checkpoints.
"""
from __future__ import annotations

import math

from engine.alpha.step import AlphaStep, logit, sigmoid

# `alpha.space = "logit"`: z = logit(alpha) is kept within logit(EDGE), logit(1 - EDGE) (and the clip),
# so alpha approaches 0 or 1 geometrically and never sits on a bound it cannot leave
EDGE = 1e-3


class AlphaStrategy:
    name = "base"

    def __init__(self, cfg, epochs: int):
        self.cfg = cfg
        self.epochs = epochs

    def value(self, t: int) -> float:
        raise NotImplementedError

    def on_validation_end(self, run, epoch: int) -> dict | None:
        """After epoch `epoch`'s validation; returns the alpha_updated fields when it moved."""
        return None

    def on_train_batch_end(self, run, epoch: int, global_step: int) -> dict | None:
        """After each training step; returns the alpha_updated fields when it moved."""
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


class Learned(AlphaStrategy):
    """Ours-LB: alpha <- clip(alpha - step(dF/dalpha), low, high), with dF/dalpha the
    hypergradient of the bi-level problem (engine/alpha/hypergrad.py, engine/alpha/bilevel.py), once per
    epoch after the inner loop (`update_every = 0`) or every N training steps; the step is
    `alpha.optimizer`'s (engine/alpha/step.py AlphaStep, with the horizon `alpha.horizon`) with
    learning rate eta_t = lr * lr_decay ** floor((t - 1) / lr_decay_every).

    `alpha.space = "logit"` applies the step to z = logit(alpha) instead (mirror descent with the
    entropy of alpha's Bernoulli: alpha = sigmoid(z), so a step lr on z moves alpha by about
    lr * alpha (1 - alpha)): alpha falls towards a bound geometrically, never reaches it, and a
    step the other way moves it off as easily; z stays within logit(EDGE), logit(1 - EDGE) and
    within the clip."""
    name = "learned"

    def __init__(self, cfg, epochs: int):
        super().__init__(cfg, epochs)
        self.alpha = float(cfg.initial)
        self.updates = 0
        self.step = AlphaStep(cfg.optimizer, cfg.betas, horizon=cfg.horizon, band=cfg.evidence)
        self.z = logit(self.alpha, EDGE)
        self._compute = None  # set on first use: needs the run's model and data

    def value(self, t: int) -> float:
        return self.alpha

    def lr_at(self, t: int) -> float:
        every = self.cfg.lr_decay_every
        return self.cfg.lr * (self.cfg.lr_decay ** ((t - 1) // every) if every else 1.0)

    def apply(self, hypergradient: float, t: int, standard_error: float | None = None) -> float:
        lo, hi = self.cfg.clip
        move = self.step(hypergradient, self.lr_at(t), standard_error)
        if self.cfg.space == "logit":
            self.z = min(logit(hi, EDGE), max(logit(lo, EDGE), self.z - move))
            self.alpha = min(hi, max(lo, sigmoid(self.z)))
        else:
            self.alpha = min(hi, max(lo, self.alpha - move))
            self.z = logit(self.alpha, EDGE)
        self.updates += 1
        return self.alpha

    def _update(self, t: int, step: int, ctx) -> dict:
        if self._compute is None:
            from engine.alpha.bilevel import ModelHypergradient

            self._compute = ModelHypergradient(ctx)
        before = self.alpha
        info = self._compute(before, t, step)
        self.apply(info["hypergradient"], t, info.pop("standard_error"))
        return {**info, "alpha": self.alpha, "previous": before, "method": self.cfg.hypergradient,
                "seconds": round(info["seconds"], 4), "optimizer": self.cfg.optimizer,
                "lr_alpha": self.lr_at(t), "step": step, "evidence": _finite(self.step.evidence)}

    def on_validation_end(self, run, epoch: int) -> dict | None:
        if self.cfg.update_every or run is None:
            return None
        return self._update(epoch, 0, run)

    def on_train_batch_end(self, run, epoch: int, global_step: int) -> dict | None:
        every = self.cfg.update_every
        if not every or run is None or global_step % every:
            return None
        return self._update(epoch, global_step, run)

    def state_dict(self) -> dict:
        return {"alpha": self.alpha, "updates": self.updates, "optimizer": self.step.state_dict(), "z": self.z}

    def load_state_dict(self, state: dict) -> None:
        self.alpha = float(state["alpha"])
        self.updates = int(state["updates"])
        self.z = float(state["z"]) if "z" in state else logit(self.alpha, EDGE)
        if "optimizer" in state:
            self.step.load_state_dict(state["optimizer"])


def _finite(x: float | None) -> float | None:
    """x, or None where it is not a finite number (JSON has no infinity)."""
    return x if x is not None and math.isfinite(x) else None


STRATEGIES: dict[str, type[AlphaStrategy]] = {
    s.name: s for s in (Constant, Stepwise, Heuristic, Polynomial, Learned)
}


def build_strategy(cfg, epochs: int) -> AlphaStrategy:
    return STRATEGIES[cfg.strategy](cfg, epochs)
