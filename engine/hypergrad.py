"""The hypergradient of the learned alpha (the paper's eq. 2 and 3; SPEC section 2).

    inner:  theta*(alpha) = argmin_theta L_tr(theta, alpha),  L_tr = (1 - alpha) L_CLS^tr + alpha L_MM^tr
    outer:  F(alpha) = L_CLS^val(theta*(alpha))
    dF/dalpha = - g_val^T H^-1 b,   H = d2 L_tr / dtheta2,  g_val = dL_CLS^val/dtheta,
                                    b = d/dalpha dL_tr/dtheta = dL_MM^tr/dtheta - dL_CLS^tr/dtheta

H^-1 g_val is approximated with Hessian-vector products, never a materialised Hessian:
`neumann` (Lorraine et al., 2020), `cg` (conjugate gradient on the damped system), `identity`
(H ~ I, first order), and `official`, the released code's heuristic (mean of one parameter
tensor's entries of H g_cls, no inverse, no b), kept to reproduce its numbers.

Everything here works on closures of a tuple of parameter tensors, so the same code serves the
trainer (closures over `torch.func.functional_call`) and small problems solved exactly in tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

Params = tuple[torch.Tensor, ...]
TrainLosses = Callable[[Params], tuple[torch.Tensor, torch.Tensor]]  # params -> (L_CLS^tr, L_MM^tr)
ValLoss = Callable[[Params], torch.Tensor]                            # params -> L_CLS^val


@dataclass
class HyperResult:
    value: float          # dF/dalpha (for official: the released code's quantity)
    hvps: int             # Hessian-vector products used
    residual: float       # relative residual ||(H + damping I) v - g_val|| / ||g_val|| (nan if not computed)
    terms: int = 0        # Neumann terms summed (fewer than asked when the series diverged)


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def _axpy(alpha: float | torch.Tensor, x: Sequence[torch.Tensor], y: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [alpha * xi + yi for xi, yi in zip(x, y)]


class HessianOperator:
    """v -> H v for H the Hessian of L_tr(theta, alpha) at `params`.

    `double_backward`: one graph of dL_tr/dtheta kept, each product a backward through it.
    `forward_over_reverse`: torch.func.jvp of torch.func.grad (no graph kept between products).
    Also gives the gradients dL_CLS^tr/dtheta and dL_MM^tr/dtheta, from which b is formed."""

    def __init__(self, train_losses: TrainLosses, params: Params, alpha: float, mode: str = "double_backward"):
        self.mode, self.alpha, self.count = mode, alpha, 0
        self.params = tuple(p.detach() for p in params)
        if mode == "double_backward":
            self.leaves = tuple(p.detach().requires_grad_(True) for p in params)
            l_cls, l_mm = train_losses(self.leaves)
            g_cls = torch.autograd.grad(l_cls, self.leaves, create_graph=True, allow_unused=True)
            g_mm = torch.autograd.grad(l_mm, self.leaves, create_graph=True, allow_unused=True)
            g_cls = [torch.zeros_like(p) if g is None else g for g, p in zip(g_cls, self.leaves)]
            g_mm = [torch.zeros_like(p) if g is None else g for g, p in zip(g_mm, self.leaves)]
            self.grad_graph = [(1 - alpha) * c + alpha * m for c, m in zip(g_cls, g_mm)]
            self.g_cls = [g.detach() for g in g_cls]
            self.g_mm = [g.detach() for g in g_mm]
        elif mode == "forward_over_reverse":
            from torch.func import grad

            def total(ps):
                l_cls, l_mm = train_losses(ps)
                return (1 - alpha) * l_cls + alpha * l_mm

            self._grad_total = grad(total)
            self.g_cls = list(grad(lambda ps: train_losses(ps)[0])(self.params))
            self.g_mm = list(grad(lambda ps: train_losses(ps)[1])(self.params))
        else:
            raise ValueError(f"unknown Hessian-vector product mode {mode!r}")

    @property
    def b(self) -> list[torch.Tensor]:
        return [m - c for m, c in zip(self.g_mm, self.g_cls)]

    def __call__(self, v: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        self.count += 1
        if self.mode == "double_backward":
            hv = torch.autograd.grad(self.grad_graph, self.leaves, grad_outputs=list(v),
                                     retain_graph=True, allow_unused=True)
            return [torch.zeros_like(p) if h is None else h.detach() for h, p in zip(hv, self.leaves)]
        from torch.func import jvp

        _, hv = jvp(self._grad_total, (self.params,), (tuple(v),))
        return [h.detach() for h in hv]


def neumann_inverse(hvp: Callable, g: list[torch.Tensor], terms: int, step: float) -> tuple[list[torch.Tensor], int]:
    """v = step * sum_{j=0..terms} (I - step H)^j g: `terms` products. The series converges
    only while step < 2 / lambda_max(H); a term larger than the one before it means it is
    diverging, and the sum stops there (the terms used are returned)."""
    p = [x.clone() for x in g]
    v = [x.clone() for x in g]
    norm = float(_dot(p, p))
    used = 0
    for _ in range(terms):
        hp = hvp(p)
        nxt = [pi - step * hi for pi, hi in zip(p, hp)]
        nxt_norm = float(_dot(nxt, nxt))
        if nxt_norm > norm:
            break
        p, norm, used = nxt, nxt_norm, used + 1
        v = [vi + pi for vi, pi in zip(v, p)]
    return [step * vi for vi in v], used


def cg_inverse(hvp: Callable, g: list[torch.Tensor], iterations: int, damping: float,
               tol: float = 1e-12) -> list[torch.Tensor]:
    """Conjugate gradient on (H + damping I) v = g, at most `iterations` products."""
    x = [torch.zeros_like(t) for t in g]
    r = [t.clone() for t in g]
    p = [t.clone() for t in g]
    rs = _dot(r, r)
    g_norm2 = rs
    for _ in range(iterations):
        if rs <= tol * g_norm2:
            break
        ap = _axpy(damping, p, hvp(p))
        denom = _dot(p, ap)
        if denom <= 0:  # not positive definite along p: stop with what we have
            break
        step = rs / denom
        x = _axpy(step, p, x)
        r = _axpy(-step, ap, r)
        rs_new = _dot(r, r)
        p = _axpy(rs_new / rs, p, r)
        rs = rs_new
    return x


def hypergradient(method: str, train_losses: TrainLosses, val_loss: ValLoss | None, params: Params,
                  alpha: float, *, terms: int = 5, step: float = 1e-2, damping: float = 0.0,
                  hvp_mode: str = "double_backward", check_residual: bool = False) -> HyperResult:
    """dF/dalpha by `method` (neumann, cg, identity, official) at `params`."""
    H = HessianOperator(train_losses, params, alpha, hvp_mode)
    if method == "official":
        # The released code: hvp = H(L_tr) g_cls on the same batch, the "hypergradient" is the
        # mean of the entries of the first parameter tensor's part of it.
        hv = H(H.g_cls)
        return HyperResult(float(hv[0].mean()), H.count, float("nan"))
    leaves = tuple(p.detach().requires_grad_(True) for p in params)
    g_val = torch.autograd.grad(val_loss(leaves), leaves, allow_unused=True)
    g_val = [torch.zeros_like(p) if g is None else g.detach() for g, p in zip(g_val, leaves)]
    used = 0
    if method == "identity":
        v = g_val
    elif method == "neumann":
        v, used = neumann_inverse(H, g_val, terms, step)
    elif method == "cg":
        v = cg_inverse(H, g_val, terms, damping)
    else:
        raise ValueError(f"unknown hypergradient method {method!r}")
    residual = float("nan")
    if check_residual:
        hv = _axpy(damping, v, H(v))
        num = sum(((a - b) ** 2).sum() for a, b in zip(hv, g_val)) ** 0.5
        residual = float(num / max(float(_dot(g_val, g_val)) ** 0.5, 1e-30))
    return HyperResult(float(-_dot(v, H.b)), H.count, residual, used)
